package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/coalesce"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/dashboard"
	imshttp "github.com/insiderone/ims/http"
	"github.com/insiderone/ims/metrics"
	"github.com/insiderone/ims/postgres"
	"github.com/insiderone/ims/rabbitmq"
	"github.com/insiderone/ims/redis"
	"github.com/insiderone/ims/scheduler"
	"github.com/insiderone/ims/sqlite"
	"github.com/insiderone/ims/webhook"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", ".env", "optional file of KEY=value settings; the environment wins over it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := config.LoadDotEnv(*envFile); err != nil {
		return err
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	m := NewMain(cfg, newLogger(stderr, cfg.LogLevel, cfg.LogFormat))
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	<-ctx.Done()
	m.Logger.Info("shutting down", "reason", "signal")
	return m.Close()
}

// Main is the running service. Run opens everything in order and starts
// serving; Close shuts down in reverse order within bounded time. Tests run it
// in-process on port 0 and read the address from Addr.
type Main struct {
	Config config.Config
	Logger *slog.Logger
	// Addr is the address the HTTP server listens on, set by Run.
	Addr string

	store     ims.Store
	queue     *rabbitmq.Queue
	cache     *redis.Cache
	hook      *webhook.Client
	sched     *scheduler.Scheduler
	metrics   *metrics.Metrics
	creator   *coalesce.Creator
	pprof     *nethttp.Server
	server    *nethttp.Server
	listener  net.Listener
	cancel    context.CancelFunc
	schedDone chan struct{}
	bgDone    chan struct{}
}

// NewMain returns a service for cfg; nothing is opened until Run.
func NewMain(cfg config.Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger}
}

// Run opens the database (migrating it), the optional queue and cache, the
// webhook client, the scheduler and the HTTP server, then returns while they
// run in the background.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	var err error
	if m.store, err = openStore(ctx, cfg, m.Logger); err != nil {
		return err
	}
	bgCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.bgDone = make(chan struct{})

	var cacheWriter *redis.AsyncWriter
	if cfg.RedisURL != "" {
		if m.cache, err = redis.New(redis.Config{URL: cfg.RedisURL, TTL: cfg.RedisCacheTTL}); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		cacheWriter = redis.NewAsyncWriter(m.cache, redis.AsyncConfig{Logger: m.Logger})
		m.Logger.Info("sent-cache enabled", "redis", redactURL(cfg.RedisURL), "ttl", cfg.RedisCacheTTL)
	}
	if cfg.RabbitMQEnabled {
		if m.queue, err = m.openQueue(ctx); err != nil {
			return err
		}
	}
	if m.hook, err = webhook.New(webhook.Config{
		URL: cfg.WebhookURL, AuthKey: cfg.WebhookAuthKey, Timeout: cfg.WebhookTimeout,
		SigningSecret: cfg.WebhookSigningKey, MaxIdleConnsPerHost: max(64, cfg.WorkerConcurrency),
	}); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	m.metrics = metrics.New(metrics.StatusSource{
		Counts:    m.store.CountByStatus,
		Scheduler: func() ims.SchedulerStatus { return m.sched.LocalStatus() },
	}, m.Logger)
	if m.sched, err = m.newScheduler(cacheWriter); err != nil {
		return err
	}
	// Load the scheduler state and leadership before the API serves, so
	// /api/control and /api/health are right from the first request (on a
	// new database this stores SCHEDULER_AUTO_START's state).
	if err := m.sched.Load(ctx); err != nil {
		return err
	}
	if err := m.listen(); err != nil {
		return err
	}

	m.schedDone = make(chan struct{})
	go func() {
		defer close(m.schedDone)
		if err := m.sched.Run(bgCtx); err != nil {
			m.Logger.Error("scheduler stopped", "err", err)
		}
	}()
	go func() {
		defer close(m.bgDone)
		var wg sync.WaitGroup
		wg.Go(func() { m.creator.Run(bgCtx) })
		if cacheWriter != nil {
			wg.Go(func() { _ = cacheWriter.Run(bgCtx) })
		}
		wg.Wait()
	}()
	go func() {
		if err := m.server.Serve(m.listener); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			m.Logger.Error("http server stopped", "err", err)
		}
	}()
	m.pprof = startPprof(cfg.PprofAddr, m.Logger)
	m.audit(ctx, ims.EventSystemStarted, "version "+version+", queue mode "+cfg.QueueMode())
	m.Logger.Info("IMS is serving", "addr", m.Addr, "docs", "http://"+m.Addr+"/api/docs",
		"queue_mode", cfg.QueueMode(), "instance", cfg.InstanceID)
	return nil
}

func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (ims.Store, error) {
	if cfg.UsesPostgres() {
		log.Info("database: PostgreSQL", "url", redactURL(cfg.DatabaseURL))
		s, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL (DATABASE_URL): %w", err)
		}
		if err := s.Migrate(ctx); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("migrate PostgreSQL: %w", err)
		}
		return s, nil
	}
	log.Info("database: embedded SQLite (DATABASE_URL is not set; set it to a postgres:// URL for PostgreSQL)", "path", cfg.SQLitePath)
	s, err := sqlite.Open(ctx, cfg.SQLitePath)
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", cfg.SQLitePath, err)
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("migrate SQLite: %w", err)
	}
	return s, nil
}

func (m *Main) openQueue(ctx context.Context) (*rabbitmq.Queue, error) {
	cfg := m.Config
	q, err := rabbitmq.New(ctx, rabbitmq.Config{
		URL: cfg.RabbitMQURL, Prefix: cfg.RabbitMQPrefix, Prefetch: cfg.RabbitMQPrefetch,
		Concurrency: cfg.WorkerConcurrency, Logger: m.Logger,
		OnPoison: func(ctx context.Context, body []byte, reason string) {
			m.audit(ctx, ims.EventQueuePoison, reason+": "+truncate(string(body), 200))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("rabbitmq (RABBITMQ_URL %s): %w", redactURL(cfg.RabbitMQURL), err)
	}
	m.Logger.Info("queue: RabbitMQ", "url", redactURL(cfg.RabbitMQURL), "prefix", cfg.RabbitMQPrefix)
	return q, nil
}

func (m *Main) newScheduler(cache *redis.AsyncWriter) (*scheduler.Scheduler, error) {
	cfg := m.Config
	deps := scheduler.Deps{Store: m.store, Webhook: m.hook, Logger: m.Logger, Observer: m.metrics}
	if m.queue != nil {
		deps.Queue = m.queue
	}
	if cache != nil {
		deps.Cache = cache
	}
	return scheduler.New(scheduler.Config{
		Instance: cfg.InstanceID, Mode: cfg.QueueMode(), Interval: cfg.SchedulerInterval,
		BatchSize: cfg.SchedulerBatchSize, Concurrency: cfg.WorkerConcurrency,
		DeliveryTimeout: cfg.WebhookTimeout, Lease: cfg.Lease(), HandoverLease: cfg.RabbitMQHandoverLease,
		LeaderTTL: cfg.LeaderTTL, PollInterval: cfg.PollInterval, ShutdownTimeout: cfg.ShutdownTimeout,
		AutoStart: cfg.SchedulerAutoStart,
		Retry:     ims.RetryPolicy{MaxRetries: cfg.MaxRetries, BaseDelay: cfg.RetryBaseDelay, MaxDelay: cfg.RetryMaxDelay},
	}, deps)
}

func (m *Main) listen() error {
	// Concurrent single creates share one insert (see package coalesce).
	m.creator = coalesce.New(m.store, 256)
	deps := imshttp.Deps{
		Messages: m.creator, Audit: m.store, Scheduler: m.sched, Health: m.healthChecks(),
		Metrics: m.metrics.Handler(), Dashboard: dashboard.Handler(),
	}
	if m.cache != nil {
		deps.Cache = m.cache
	}
	handler, err := imshttp.NewServer(imshttp.Config{
		APIKey: m.Config.APIKey, MaxContentLength: m.Config.MessageMaxLength, Version: version,
		SendAtHorizon: m.Config.SendAtHorizon,
	}, deps, m.Logger)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	addr := net.JoinHostPort("", strconv.Itoa(m.Config.ServerPort))
	if m.listener, err = net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("listen on SERVER_PORT %d: %w", m.Config.ServerPort, err)
	}
	m.Addr = m.listener.Addr().String()
	if tcp, ok := m.listener.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		m.Addr = net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	m.server = &nethttp.Server{
		Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
	}
	return nil
}

// healthChecks lists the components /api/health reports. /api/health needs
// no key, so failures are shown as fixed sentences (the cause is logged).
func (m *Main) healthChecks() []imshttp.HealthCheck {
	checks := []imshttp.HealthCheck{{
		Name: "database", Required: true,
		Check: func(ctx context.Context) (string, error) {
			kind := "sqlite " + m.Config.SQLitePath
			if m.Config.UsesPostgres() {
				kind = "postgres"
			}
			return kind, m.unavailable(m.store.Ping(ctx), "database", "the database does not answer")
		},
	}}
	if m.queue != nil {
		checks = append(checks, imshttp.HealthCheck{
			Name: "queue", Required: true,
			Check: func(ctx context.Context) (string, error) {
				return "rabbitmq", m.unavailable(m.queue.Ping(ctx), "queue", "the RabbitMQ connection is down; reconnecting")
			},
		})
	}
	if m.cache != nil {
		checks = append(checks, imshttp.HealthCheck{
			Name: "cache", Required: false,
			Check: func(ctx context.Context) (string, error) {
				return "redis", m.unavailable(m.cache.Ping(ctx), "cache", "Redis does not answer; delivery goes on without the sent-cache")
			},
		})
	}
	checks = append(checks, imshttp.HealthCheck{
		Name: "scheduler", Required: false,
		Check: func(context.Context) (string, error) {
			st := m.sched.LocalStatus()
			state := "stopped"
			if st.Running {
				state = "running"
			}
			return fmt.Sprintf("%s; instance %s; leader %s; mode %s", state, st.Instance, orNone(st.Leader), st.QueueMode), nil
		},
	})
	return checks
}

func (m *Main) unavailable(err error, component, sentence string) error {
	if err == nil {
		return nil
	}
	m.Logger.Warn("health check failed", "component", component, "err", err)
	return ims.Errorf(ims.EUNAVAILABLE, "%s", sentence)
}

// Close stops accepting requests, stops the scheduler (which finishes or
// releases in-flight deliveries within SHUTDOWN_TIMEOUT) and closes every
// connection. It is safe to call after a failed Run.
func (m *Main) Close() error {
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, m.server.Shutdown(ctx))
		cancel()
	}
	if m.pprof != nil {
		errs = append(errs, m.pprof.Close())
	}
	if m.cancel != nil {
		m.cancel()
	}
	if m.schedDone != nil {
		<-m.schedDone
	}
	if m.bgDone != nil {
		<-m.bgDone
	}
	if m.store != nil {
		m.audit(context.Background(), ims.EventSystemStopped, "graceful shutdown")
	}
	if m.queue != nil {
		errs = append(errs, m.queue.Close())
	}
	if m.cache != nil {
		errs = append(errs, m.cache.Close())
	}
	if m.hook != nil {
		errs = append(errs, m.hook.Close())
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	return errors.Join(errs...)
}

// audit records a system event; a failure is logged, never fatal.
func (m *Main) audit(ctx context.Context, typ, details string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ev := ims.AuditEvent{Type: typ, Actor: "instance:" + m.Config.InstanceID, Details: details}
	if err := m.store.AppendAudit(ctx, []ims.AuditEvent{ev}); err != nil {
		m.Logger.Warn("write audit event", "type", typ, "err", err)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
