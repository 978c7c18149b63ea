package http

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxBodyBytes = 1 << 20 // 1 MiB: a full batch of 1000 messages fits with room to spare
	DefaultMaxBatchSize = 1000
)

// Config tunes the API.
type Config struct {
	// APIKey is required; clients send it as "Authorization: <key>" or
	// "Authorization: Bearer <key>".
	APIKey string
	// MaxContentLength bounds message content, in characters (runes).
	MaxContentLength int
	// MaxBodyBytes bounds request bodies; bigger ones are answered 413.
	MaxBodyBytes int64
	// MaxBatchSize bounds POST /api/messages/batch.
	MaxBatchSize int
	// SendAtHorizon bounds how far ahead send_at may lie (SEND_AT_HORIZON);
	// zero means ims.DefaultSendAtHorizon.
	SendAtHorizon time.Duration
	// MessageTTL is the expiry of a message that gives none (MESSAGE_TTL);
	// zero means such messages never expire.
	MessageTTL time.Duration
	// DLRAuthKey is the key of POST /api/delivery-reports (DLR_AUTH_KEY);
	// "" leaves the endpoint off (503).
	DLRAuthKey string
	// ConsoleStreams bounds the open GET /api/console/stream connections;
	// zero means DefaultConsoleStreams.
	ConsoleStreams int
	// Version is reported by /api/health and the OpenAPI document.
	Version string
	// QueueModes are the queue modes the engine runs (scheduler.Modes): the
	// OpenAPI document's queue_mode values. nil documents any string.
	QueueModes []string
	// Clock tells the time, e.g. the age of a cached health answer; nil is
	// time.Now. Tests inject their own instead of sleeping.
	Clock ims.Clock

	// SMS-native rules of a create (issue 10): MESSAGE_MAX_SEGMENTS (0 =
	// no cap), PHONE_VALIDATION ("" = e164) and QUIET_HOURS (zero = off).
	MaxSegments     int
	PhoneValidation ims.PhoneValidation
	QuietHours      ims.QuietHours
}

// withDefaults fills the zero values and rejects what cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.APIKey == "" {
		return c, errors.New("http config: APIKey is required")
	}
	if c.MaxContentLength <= 0 {
		c.MaxContentLength = ims.DefaultMaxContentLength
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBatchSize <= 0 {
		c.MaxBatchSize = DefaultMaxBatchSize
	}
	if c.SendAtHorizon <= 0 {
		c.SendAtHorizon = ims.DefaultSendAtHorizon
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c, nil
}

// HealthCheck is one component reported by GET /api/health.
type HealthCheck struct {
	Name string // "database", "queue", "cache", "scheduler"
	// Required checks make the service "down" (503) when they fail; optional
	// ones only make it "degraded" (200).
	Required bool
	// Check returns a short detail on success, or Degraded(detail) when the
	// component works but not well. Any other error means down; it is shown
	// to the (unauthenticated) caller only if it is an *ims.Error; any other
	// error text is logged and shown as "check failed". Checks run at most
	// about once a second, however many requests arrive.
	Check func(ctx context.Context) (detail string, err error)
}

// Deps are what the API talks to.
type Deps struct {
	Messages  ims.MessageStore
	Audit     ims.AuditStore
	Scheduler ims.SchedulerControl
	Cache     ims.SentCache // nil when Redis is not configured
	Health    []HealthCheck
	Metrics   http.Handler // nil = no /metrics route
	Stats     StatsSource  // nil = GET /api/stats answers 503
	// Console feeds GET /api/console and its stream (RunConsole); nil =
	// they answer 503.
	Console ConsoleSource
	// Clock is the time send_at is validated against; nil = time.Now.
	Clock ims.Clock
	// Reports keeps delivery reports; nil leaves POST /api/delivery-reports
	// off (503). ObserveReports, when set, is told what each POST did (metrics).
	Reports        ims.DeliveryReportStore
	ObserveReports func([]ims.ReportResult)
}

// Server is the API as an http.Handler. It holds no listener: cmd/ims puts
// it in an *http.Server with its own timeouts.
type Server struct {
	cfg     Config
	deps    Deps
	logger  *slog.Logger
	routes  []route
	openapi []byte
	handler http.Handler
	// healthTimeout is defaultHealthCheckTimeout; tests shorten it.
	healthTimeout time.Duration
	health        healthCache
	// live is the console's producer and its streams; nil without
	// Deps.Console.
	live *liveHub
}

// NewServer checks cfg and deps and builds the routes.
func NewServer(cfg Config, deps Deps, logger *slog.Logger) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Messages == nil || deps.Audit == nil || deps.Scheduler == nil {
		return nil, errors.New("http deps: Messages, Audit and Scheduler are required")
	}
	for _, hc := range deps.Health {
		if hc.Name == "" || hc.Check == nil {
			return nil, errors.New("http deps: every health check needs a Name and a Check")
		}
	}
	logger = logging.OrDiscard(logger)
	s := &Server{cfg: cfg, deps: deps, logger: logger, healthTimeout: defaultHealthCheckTimeout,
		health: healthCache{now: cfg.Clock}}
	s.openapi, err = openAPIDocument(cfg.Version, deps.Metrics != nil, cfg.QueueModes)
	if err != nil {
		return nil, err
	}
	if deps.Console != nil {
		s.live = newLiveHub(s.consoleSnapshotJSON, cfg.ConsoleStreams)
	}
	s.routes = s.routeTable()
	s.handler = s.buildHandler()
	return s, nil
}

// now is the API's clock.
func (s *Server) now() time.Time {
	if s.deps.Clock != nil {
		return s.deps.Clock()
	}
	return time.Now()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// buildHandler registers the route table on a ServeMux and wraps it in the
// middleware every request goes through, outermost first.
func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		h := http.Handler(rt.handler)
		if rt.auth {
			h = s.requireAPIKey(h)
		}
		mux.Handle(rt.method+" "+rt.pattern, h)
	}
	return chain(s.jsonMuxErrors(mux),
		s.withRequestID,
		s.logAccess,
		s.recoverPanic,
		s.limitBody,
	)
}

// chain wraps h so that the first middleware is the outermost.
func chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}
