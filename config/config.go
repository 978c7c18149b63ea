// Package config reads IMS settings from the environment (and an optional
// .env file) into one Config value that main passes to every constructor.
// A bad setting stops start-up with one line naming it and what it accepts.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/insiderone/ims"
)

// Config is every setting of `ims serve`.
type Config struct {
	DatabaseURL string // empty = embedded SQLite at SQLitePath
	SQLitePath  string

	WebhookURL        string
	WebhookAuthKey    string
	WebhookSigningKey string
	WebhookTimeout    time.Duration
	MaxRetries        int
	RetryBaseDelay    time.Duration
	RetryMaxDelay     time.Duration
	// BreakerThreshold consecutive provider failures, fleet-wide, open the
	// circuit; BreakerProbe is the first wait for a probe (doubling to 2m).
	BreakerThreshold int
	BreakerProbe     time.Duration
	// RateLimit is calls per second for the whole fleet, 0 for none;
	// RateBurst how many may go at once, 0 for one second's worth.
	RateLimit float64
	RateBurst float64

	APIKey           string // required; never equal to WebhookAuthKey
	ServerPort       int
	MessageMaxLength int
	// SendAtHorizon is how far ahead a message's send_at may lie.
	SendAtHorizon time.Duration
	// MessageTTL is the expiry of a message whose create gives neither
	// ttl_seconds nor expires_at, counted from when it is due; 0 = none.
	MessageTTL time.Duration

	SchedulerInterval  time.Duration
	SchedulerBatchSize int
	SchedulerAutoStart bool
	WorkerConcurrency  int
	PollInterval       time.Duration
	LeaderTTL          time.Duration
	ShutdownTimeout    time.Duration
	InstanceID         string

	RabbitMQEnabled       bool
	RabbitMQURL           string
	RabbitMQPrefix        string
	RabbitMQPrefetch      int
	RabbitMQHandoverLease time.Duration

	RedisURL      string
	RedisCacheTTL time.Duration

	// Retention: how long sent (and canceled) messages, dead messages and
	// audit events are kept; 0 keeps them forever.
	RetentionSent  time.Duration
	RetentionDead  time.Duration
	RetentionAudit time.Duration

	LogLevel  string
	LogFormat string

	// PprofAddr, when set, serves net/http/pprof there (e.g. 127.0.0.1:6060)
	// for profiling; never on the API port.
	PprofAddr string

	// GCPercent is the Go garbage collector's target (GOGC, read as Go
	// reads it; -1 is "off"), which `ims serve` applies at start-up. Its
	// default is DefaultGCPercent, not Go's 100: IMS's live heap is small
	// (tens of MB, whatever the backlog), so at 100 the collector runs
	// dozens of times a second under load (docs/benchmarks.md).
	GCPercent int

	// MetricsAddr, when set, serves /metrics there (e.g. 127.0.0.1:9100)
	// instead of on the API port, so scrapes and API traffic are apart.
	MetricsAddr string
	// StatsRefresh is how often message counts (/metrics, /api/stats) are
	// counted; readers only ever see the cached count.
	StatsRefresh time.Duration

	// SMS holds the SMS-native settings: segments, phone validation,
	// the rate unit and quiet hours (config/sms.go).
	SMS SMS
	// Delivery reports in and status callbacks out (issue 10, parts 4-5).
	// DLRAuthKey enables POST /api/delivery-reports ("" = off, 503);
	// DLRParkTTL is how long a report for an unknown provider id is kept.
	DLRAuthKey string
	DLRParkTTL time.Duration
	// StatusCallbackURL is the default callback URL ("" = only messages
	// with their own callback_url get callbacks); StatusCallbackSecret
	// signs them (Standard Webhooks); StatusCallbackMaxRetries is how many
	// retries follow the first attempt before one is given up.
	StatusCallbackURL        string
	StatusCallbackSecret     string
	StatusCallbackMaxRetries int
}

// maxSendAtHorizon keeps every accepted send_at far inside the years 0–9999
// that timestamps can be written in.
const maxSendAtHorizon = 100 * 8760 * time.Hour

// DefaultSQLitePath is SQLITE_PATH's default: the embedded database's file,
// in the working directory (make clean removes it and its -wal/-shm files).
const DefaultSQLitePath = "ims.db"

// UsesPostgres reports whether DATABASE_URL names a PostgreSQL database.
func (c Config) UsesPostgres() bool { return c.DatabaseURL != "" }

// QueueMode is ims.QueueModeRabbitMQ or ims.QueueModeDB.
func (c Config) QueueMode() string {
	if c.RabbitMQEnabled {
		return ims.QueueModeRabbitMQ
	}
	return ims.QueueModeDB
}

// Lease is how long a claim holds: a little longer than the webhook timeout,
// so a delivery still in flight is never claimed by another worker.
func (c Config) Lease() time.Duration {
	return ims.LeaseFor(c.WebhookTimeout)
}

// Lookup reads one variable; os.LookupEnv in production, a map in tests.
type Lookup func(name string) (string, bool)

// DefaultEnvFile is the -env-file default of ims serve and ims migrate: a
// .env in the working directory, as .env.example suggests.
const DefaultEnvFile = ".env"

// LoadDotEnv loads path into the process environment without overriding
// variables that are already set. A missing file is not an error.
func LoadDotEnv(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := godotenv.Load(path); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// Load reads and validates every setting. The error names the first bad
// setting and what it accepts.
func Load(lookup Lookup) (Config, error) {
	r := reader{lookup: lookup}
	c := Config{
		DatabaseURL: r.databaseURL(),
		SQLitePath:  r.sqlitePath(),

		WebhookURL:        r.str("WEBHOOK_URL", ""),
		WebhookAuthKey:    r.str("WEBHOOK_AUTH_KEY", ""),
		WebhookSigningKey: r.str("WEBHOOK_SIGNING_SECRET", ""),
		WebhookTimeout:    r.duration("WEBHOOK_TIMEOUT", 30*time.Second, time.Millisecond),
		MaxRetries:        r.integer("WEBHOOK_MAX_RETRIES", 3, 0, 100),
		RetryBaseDelay:    r.duration("WEBHOOK_RETRY_BASE_DELAY", 10*time.Second, time.Millisecond),
		RetryMaxDelay:     r.duration("WEBHOOK_RETRY_MAX_DELAY", 10*time.Minute, time.Millisecond),
		BreakerThreshold:  r.integer("WEBHOOK_BREAKER_THRESHOLD", ims.DefaultBreakerThreshold, 1, 1_000_000),
		BreakerProbe:      r.duration("WEBHOOK_BREAKER_PROBE", ims.DefaultBreakerProbe, 10*time.Millisecond),
		RateLimit:         r.number("WEBHOOK_RATE_LIMIT", 0, 0, "calls per second for the whole fleet, fractional allowed, 0 for none"),
		RateBurst:         r.number("WEBHOOK_RATE_BURST", 0, 0, "calls that may go at once, at least 1 (0 or unset: one second's worth)"),

		ServerPort:       r.serverPort(),
		MessageMaxLength: r.integer("MESSAGE_MAX_LENGTH", 160, 1, 1_000_000),
		SendAtHorizon:    r.duration("SEND_AT_HORIZON", 8760*time.Hour, time.Minute),
		MessageTTL:       r.duration("MESSAGE_TTL", 0, 0),

		SchedulerInterval:  r.duration("SCHEDULER_INTERVAL", 2*time.Minute, 0),
		SchedulerBatchSize: r.integer("SCHEDULER_BATCH_SIZE", 2, 1, 100_000),
		SchedulerAutoStart: r.boolean("SCHEDULER_AUTO_START", true),
		WorkerConcurrency:  r.integer("WORKER_CONCURRENCY", 16, 1, 10_000),
		PollInterval:       r.duration("POLL_INTERVAL", time.Second, time.Millisecond),
		LeaderTTL:          r.duration("LEADER_TTL", 5*time.Second, 100*time.Millisecond),
		ShutdownTimeout:    r.duration("SHUTDOWN_TIMEOUT", 30*time.Second, 0),
		InstanceID:         r.str("INSTANCE_ID", defaultInstanceID()),

		RabbitMQEnabled:       r.boolean("RABBITMQ_ENABLED", false),
		RabbitMQURL:           r.str("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
		RabbitMQPrefix:        r.str("RABBITMQ_PREFIX", "ims"),
		RabbitMQPrefetch:      r.integer("RABBITMQ_PREFETCH", 1024, 1, 65535),
		RabbitMQHandoverLease: r.duration("RABBITMQ_HANDOVER_LEASE", ims.DefaultHandoverLease, time.Second),

		RedisURL:      r.str("REDIS_URL", ""),
		RedisCacheTTL: r.duration("REDIS_CACHE_TTL", 168*time.Hour, time.Second),

		RetentionSent:  r.retention("RETENTION_SENT", 720*time.Hour),
		RetentionDead:  r.retention("RETENTION_DEAD", 2160*time.Hour),
		RetentionAudit: r.retention("RETENTION_AUDIT", 2160*time.Hour),

		LogLevel:  r.logLevel(),
		LogFormat: r.logFormat(),
		PprofAddr: r.str("PPROF_ADDR", ""),
		GCPercent: r.gcPercent(),

		MetricsAddr:  r.str("METRICS_ADDR", ""),
		StatsRefresh: r.duration("STATS_REFRESH", 5*time.Second, 100*time.Millisecond),

		DLRAuthKey:               r.str("DLR_AUTH_KEY", ""),
		DLRParkTTL:               r.duration("DLR_PARK_TTL", 24*time.Hour, time.Minute),
		StatusCallbackURL:        r.str("STATUS_CALLBACK_URL", ""),
		StatusCallbackSecret:     r.str("STATUS_CALLBACK_SECRET", ""),
		StatusCallbackMaxRetries: r.integer("STATUS_CALLBACK_MAX_RETRIES", 8, 0, 100),
	}
	c.APIKey = r.str("API_KEY", "")
	c.SMS = r.sms()
	if r.err != nil {
		return Config{}, r.err
	}
	return c, c.validate()
}

// LoadDatabase reads only what reaches the database and the log — the
// settings `ims migrate` needs — by the rules Load applies to them, so that
// migrating needs no webhook or API key. The other fields stay zero.
func LoadDatabase(lookup Lookup) (Config, error) {
	r := reader{lookup: lookup}
	c := Config{DatabaseURL: r.databaseURL(), SQLitePath: r.sqlitePath(), LogLevel: r.logLevel(), LogFormat: r.logFormat()}
	if r.err != nil {
		return Config{}, r.err
	}
	return c, c.validateDatabase()
}

// LoadServerPort reads only SERVER_PORT, by the rule Load applies to it:
// what `ims healthcheck` needs to find the server.
func LoadServerPort(lookup Lookup) (int, error) {
	r := reader{lookup: lookup}
	port := r.serverPort()
	return port, r.err
}

// The settings read by more than one loader, each with its one default.
func (r *reader) databaseURL() string { return r.str("DATABASE_URL", "") }
func (r *reader) sqlitePath() string  { return r.str("SQLITE_PATH", DefaultSQLitePath) }
func (r *reader) logLevel() string {
	return r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error")
}
func (r *reader) logFormat() string { return r.oneOf("LOG_FORMAT", "text", "text", "json") }

// DefaultGCPercent is GOGC when it is not set. At 400 the heap may grow to
// five times the live heap between collections; measured on a PostgreSQL
// drain, IMS's CPU per delivered message is 6-9% lower than at 100, its
// peak RSS ~110 MiB instead of ~57 (docs/benchmarks.md, ninth session).
const DefaultGCPercent = 400

// gcPercent reads GOGC as the Go runtime does: a percentage, or "off".
func (r *reader) gcPercent() int {
	v, ok := r.raw("GOGC")
	if !ok {
		return DefaultGCPercent
	}
	if strings.EqualFold(v, "off") {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1_000_000 {
		r.fail("GOGC", "a percentage from 1 to 1000000, or off", v)
		return DefaultGCPercent
	}
	return n
}

func (r *reader) serverPort() int { return r.integer("SERVER_PORT", 8080, 0, 65535) }

// Validate checks a Config built in code (the demo, tests) by the rules Load
// applies to the environment.
func (c Config) Validate() error { return c.validate() }

func (c Config) validate() error {
	if c.WebhookURL == "" {
		return errors.New("WEBHOOK_URL is required: the http(s) URL that messages are delivered to")
	}
	if u, err := url.Parse(c.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("WEBHOOK_URL must be an absolute http:// or https:// URL")
	}
	if c.WebhookAuthKey == "" {
		return errors.New("WEBHOOK_AUTH_KEY is required: the key sent to the webhook in x-ins-auth-key")
	}
	// The webhook receiver sees WEBHOOK_AUTH_KEY on every call, so it must
	// not be the key that controls IMS.
	if c.APIKey == "" {
		return errors.New("API_KEY is required: the key API clients send in Authorization (it must differ from WEBHOOK_AUTH_KEY)")
	}
	if c.APIKey == c.WebhookAuthKey {
		return errors.New("API_KEY must differ from WEBHOOK_AUTH_KEY: the webhook receiver sees WEBHOOK_AUTH_KEY, so it must not control IMS")
	}
	if err := c.validateDatabase(); err != nil {
		return err
	}
	if c.SendAtHorizon > maxSendAtHorizon {
		return fmt.Errorf("SEND_AT_HORIZON must be at most %s (100 years), got %s", maxSendAtHorizon, c.SendAtHorizon)
	}
	if c.MessageTTL != 0 && (c.MessageTTL < time.Second || c.MessageTTL > ims.MaxTTL) {
		return fmt.Errorf("MESSAGE_TTL must be 0 (messages never expire) or a Go duration from 1s to %s (10 years), got %s",
			ims.MaxTTL, c.MessageTTL)
	}
	if c.RetryMaxDelay < c.RetryBaseDelay {
		return errors.New("WEBHOOK_RETRY_MAX_DELAY must be at least WEBHOOK_RETRY_BASE_DELAY")
	}
	if c.BreakerProbe > ims.DefaultBreakerMaxProbe {
		return fmt.Errorf("WEBHOOK_BREAKER_PROBE must be at most %s (the longest probe delay), got %s", ims.DefaultBreakerMaxProbe, c.BreakerProbe)
	}
	if c.RateBurst != 0 && c.RateBurst < 1 {
		return fmt.Errorf("WEBHOOK_RATE_BURST must be calls that may go at once, at least 1 (0 or unset: one second's worth), got %v", c.RateBurst)
	}
	if c.RateBurst != 0 && c.RateLimit == 0 {
		return errors.New("WEBHOOK_RATE_BURST needs WEBHOOK_RATE_LIMIT: without a limit there is no burst to bound")
	}
	if c.RabbitMQEnabled {
		if u, err := url.Parse(c.RabbitMQURL); err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
			return errors.New("RABBITMQ_URL must be an amqp:// or amqps:// URL")
		}
		// A published claim must not expire before a consumer's renewal
		// could replace it with the claim lease.
		if c.RabbitMQHandoverLease < c.Lease() {
			return fmt.Errorf("RABBITMQ_HANDOVER_LEASE must be at least the claim lease, WEBHOOK_TIMEOUT + max(5s, WEBHOOK_TIMEOUT/4) = %s, got %s",
				c.Lease(), c.RabbitMQHandoverLease)
		}
	}
	if c.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil || port == "" {
			return errors.New("METRICS_ADDR must be host:port or :port, such as 127.0.0.1:9100 or :9100")
		}
		if c.ServerPort != 0 && port == strconv.Itoa(c.ServerPort) {
			return errors.New("METRICS_ADDR must use another port than SERVER_PORT: it takes /metrics off the API port")
		}
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			return errors.New("REDIS_URL must be a redis:// or rediss:// URL")
		}
	}
	return c.validateCallbacks()
}

// validateCallbacks checks the delivery-report and status-callback settings.
func (c Config) validateCallbacks() error {
	// The provider sends DLR_AUTH_KEY: like WEBHOOK_AUTH_KEY it must not be
	// the key that controls IMS.
	if c.DLRAuthKey != "" && c.DLRAuthKey == c.APIKey {
		return errors.New("DLR_AUTH_KEY must differ from API_KEY: the provider sends DLR_AUTH_KEY, so it must not control IMS")
	}
	if c.StatusCallbackURL != "" {
		if p := ims.CheckCallbackURL(c.StatusCallbackURL); p != "" {
			return errors.New("STATUS_CALLBACK_URL " + p)
		}
	}
	if rest, ok := strings.CutPrefix(c.StatusCallbackSecret, "whsec_"); ok {
		if _, err := base64.StdEncoding.DecodeString(rest); err != nil || rest == "" {
			return errors.New("STATUS_CALLBACK_SECRET must be whsec_ followed by base64 (Standard Webhooks), or a raw secret without the prefix")
		}
	}
	return nil
}

func (c Config) validateDatabase() error {
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return errors.New("DATABASE_URL must be a postgres:// or postgresql:// URL (leave it unset for the embedded SQLite database)")
	}
	return nil
}

func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ims"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// reader parses variables and remembers the first error, so Load reads as a
// plain list of settings.
type reader struct {
	lookup Lookup
	err    error
}

func (r *reader) raw(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *reader) fail(name, accepts, got string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s must be %s, got %q", name, accepts, got)
	}
}

func (r *reader) str(name, def string) string {
	if v, ok := r.raw(name); ok {
		return v
	}
	return def
}

func (r *reader) integer(name string, def, lo, hi int) int {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Sprintf("an integer from %d to %d", lo, hi), v)
		return def
	}
	return n
}

// number reads a finite decimal number of at least lo.
func (r *reader) number(name string, def, lo float64, accepts string) float64 {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < lo {
		r.fail(name, accepts, v)
		return def
	}
	return f
}

func (r *reader) duration(name string, def, lo time.Duration) time.Duration {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil && v == "0" {
		d, err = 0, nil
	}
	if err != nil || d < lo {
		r.fail(name, fmt.Sprintf("a Go duration such as 30s, 2m or 1h (at least %s)", lo), v)
		return def
	}
	return d
}

// minRetention guards against a unit slip (RETENTION_SENT=720s instead of
// 720h) deleting data almost as soon as it is final.
const minRetention = time.Hour

// retention reads a retention: 0 (keep forever) or at least minRetention.
func (r *reader) retention(name string, def time.Duration) time.Duration {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil && v == "0" {
		d, err = 0, nil
	}
	if err != nil || (d != 0 && d < minRetention) {
		r.fail(name, "0 (keep forever) or a Go duration of at least 1h such as 720h", v)
		return def
	}
	return d
}

func (r *reader) boolean(name string, def bool) bool {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, "true or false", v)
		return def
	}
	return b
}

func (r *reader) oneOf(name, def string, accepted ...string) string {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	for _, a := range accepted {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	r.fail(name, "one of "+strings.Join(accepted, ", "), v)
	return def
}
