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
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/config"
	imshttp "github.com/insiderone/ims/http"
	"github.com/insiderone/ims/internal/callbacks"
	"github.com/insiderone/ims/internal/coalesce"
	"github.com/insiderone/ims/internal/stats"
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
	fs.Usage = commandUsage(fs, "serve", "Run the service: the HTTP API and console, the scheduler and webhook delivery, configured by the environment and .env.",
		"API_KEY=secret WEBHOOK_URL=https://provider.example/send WEBHOOK_AUTH_KEY=k ims serve",
		"DATABASE_URL=postgres://localhost/ims ims serve -port 9000")
	envFile := fs.String("env-file", config.DefaultEnvFile, "optional file of KEY=value settings; the environment wins over it")
	port := fs.Int("port", 0, "HTTP port of the API; overrides SERVER_PORT (0 = any free port)")
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
	if flagSet(fs, "port") {
		if *port < 0 || *port > 65535 {
			return fmt.Errorf("-port must be an integer from 0 to 65535, got %d", *port)
		}
		cfg.ServerPort = *port
	}
	// The collector's target is the process's, so the command sets it,
	// not Main (which tests run inside their own process). Go read GOGC
	// from the environment before main; this also applies IMS's default
	// and a GOGC from the env file.
	debug.SetGCPercent(cfg.GCPercent)
	m := NewMain(cfg, newLogger(stderr, cfg.LogLevel, cfg.LogFormat))
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		if ctx.Err() != nil {
			m.Logger.Info("start-up interrupted", "reason", "signal", "err", err)
			return nil
		}
		return err
	}
	<-ctx.Done()
	m.Logger.Info("shutting down", "reason", "signal", "timeout", cfg.ShutdownTimeout)
	return m.Close()
}

// flagSet reports whether the command line gave flag name, so that a flag
// overrides a setting only when it is there.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// Main is the running service. Run opens everything in order and starts
// serving; Close shuts down in reverse order within SHUTDOWN_TIMEOUT. Tests
// run it in-process on port 0 and read the address from Addr.
type Main struct {
	Config config.Config
	Logger *slog.Logger
	// Addr is the address the HTTP server listens on, set by Run.
	Addr string
	// PortHint ends Run's error when the port is taken: what to change.
	// NewMain sets the one of `ims serve`; the demo sets its own.
	PortHint string
	// MetricsAddr is where /metrics is served when METRICS_ADDR is set
	// (empty otherwise: /metrics is then on Addr), set by Run.
	MetricsAddr string

	store    ims.Store
	queue    *rabbitmq.Queue
	cache    *redis.Cache
	hook     *webhook.Client
	sched    *scheduler.Scheduler
	metrics  *metrics.Metrics
	creator  *coalesce.Creator
	pprof    *nethttp.Server
	server   *nethttp.Server
	api      *imshttp.Server
	listener net.Listener

	// What /metrics, /api/stats and /api/health read instead of the
	// database, and the server of METRICS_ADDR.
	counts     *stats.Counts
	outcomes   *stats.Outcomes
	series     *stats.Series // the console's 15-minute charts
	fleet      *stats.Fleet  // this instance's heartbeat and the fleet's list
	failures   *stats.FailureLog
	metricsSrv *nethttp.Server

	// Delivery reports and status callbacks (callbacks.go).
	callbacks      *callbacks.Dispatcher
	callbackSender *callbacks.HTTPSender
	reports        *metrics.Reports
	callbacksTask  *task

	// The background goroutines, each set only once it is started, so that
	// Close after a failure at any step of Run waits only for what runs.
	schedTask, creatorTask, cacheTask, countsTask, failuresTask *task
	retentionTask, expiryTask, consoleTask, fleetTask           *task
	serving                                                     bool // Run got to the end: the system.started event is written

	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a service for cfg; nothing is opened until Run.
func NewMain(cfg config.Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger, PortHint: "set SERVER_PORT or -port"}
}

// Run binds the API port, opens the database (migrating it), the optional
// queue and cache, the webhook client, the scheduler and the HTTP server,
// then returns while they run in the background. On an error the caller
// must still call Close, which releases whatever was opened.
//
// RabbitMQ and Redis may be down at start: they come back by themselves, so
// Run logs a warning and goes on, and /api/health reports them down meanwhile
// (messages wait in the database).
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Bind before any slow work, so that a taken port fails at once.
	if err := m.bind(); err != nil {
		return err
	}
	var err error
	if m.store, err = openStore(ctx, cfg, m.Logger); err != nil {
		return err
	}
	if err := fitSchemaToReports(ctx, m.store, cfg.DLRAuthKey != "", m.Logger); err != nil {
		return err
	}
	var cacheWriter *redis.AsyncWriter
	if cfg.RedisURL != "" {
		if m.cache, err = redis.New(redis.Config{URL: cfg.RedisURL, TTL: cfg.RedisCacheTTL}); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		cacheWriter = redis.NewAsyncWriter(m.cache, redis.AsyncConfig{Logger: m.Logger})
		m.Logger.Info("sent-cache enabled", "redis", ims.RedactURL(cfg.RedisURL), "ttl", cfg.RedisCacheTTL)
		if err := m.cache.Ping(ctx); err != nil {
			m.Logger.Warn("Redis does not answer; delivery goes on without the sent-cache until it does", "err", err)
		}
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
	// Scrapes, probes and consoles read caches; only these count or log.
	m.series = stats.NewSeries(nil)
	m.counts = stats.NewCounts(m.store, stats.CountsConfig{Refresh: cfg.StatsRefresh, Logger: m.Logger,
		OnCount: func(c map[ims.Status]int64) { m.series.SampleBacklog(c[ims.StatusPending] + c[ims.StatusSending]) }})
	m.outcomes = stats.NewOutcomes(stats.OutcomesConfig{})
	m.failures = stats.NewFailureLog(stats.FailureLogConfig{Logger: m.Logger})
	m.metrics = metrics.New(metrics.StatusSource{
		Counts:    m.counts.Snapshot,
		Scheduler: func() ims.SchedulerStatus { return m.sched.LocalStatus() },
	})
	if m.sched, err = m.newScheduler(cacheWriter); err != nil {
		return err
	}
	// Load the scheduler state and leadership before the API serves, so
	// /api/control and /api/health are right from the first request (on a
	// new database this stores SCHEDULER_AUTO_START's state).
	if err := m.sched.Load(ctx); err != nil {
		return err
	}
	m.fleet = stats.NewFleet(m.store, stats.FleetConfig{
		Self:   ims.Instance{ID: cfg.InstanceID, StartedAt: time.Now().UTC(), Version: version, QueueMode: cfg.QueueMode()},
		Leader: func() bool { return m.sched.LocalStatus().IsLeader }, Logger: m.Logger,
	})
	purger, err := m.newRetention()
	if err != nil {
		return err
	}
	sweeper, err := m.newExpiry()
	if err != nil {
		return err
	}
	if err := m.newCallbacks(ctx); err != nil {
		return err
	}
	if m.metricsSrv, m.MetricsAddr, err = startMetrics(cfg.MetricsAddr, m.metrics.Handler(), m.Logger); err != nil {
		return err
	}
	if err := m.newServer(); err != nil {
		return err
	}

	m.creatorTask = startTask(ctx, "the create coalescer", m.creator.Run)
	m.countsTask = startTask(ctx, "the message counter", m.counts.Run)
	m.failuresTask = startTask(ctx, "the failure log", m.failures.Run)
	if cacheWriter != nil {
		m.cacheTask = startTask(ctx, "the sent-cache writer", func(ctx context.Context) { _ = cacheWriter.Run(ctx) })
	}
	m.schedTask = startTask(ctx, "the scheduler", func(ctx context.Context) {
		if err := m.sched.Run(ctx); err != nil {
			m.Logger.Error("scheduler stopped", "err", err)
		}
	})
	m.retentionTask = startTask(ctx, "the retention purge", purger.Run)
	m.expiryTask = startTask(ctx, "the expiry sweep", sweeper.Run)
	m.callbacksTask = startTask(ctx, "the status callbacks", m.callbacks.Run)
	m.consoleTask = startTask(ctx, "the console's producer", m.api.RunConsole)
	m.fleetTask = startTask(ctx, "the instance heartbeat", m.fleet.Run)
	go func() {
		if err := m.server.Serve(m.listener); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			m.Logger.Error("http server stopped", "err", err)
		}
	}()
	m.pprof = startPprof(cfg.PprofAddr, m.Logger)
	m.audit(ctx, ims.EventSystemStarted, "version "+version+", queue mode "+cfg.QueueMode())
	m.serving = true
	m.Logger.Info("IMS is serving", "addr", m.Addr, "docs", "http://"+m.Addr+"/api/docs",
		"queue_mode", cfg.QueueMode(), "instance", cfg.InstanceID)
	return nil
}

// task is a background goroutine of Main: Close cancels it and waits for it.
type task struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
}

// startTask runs f in a goroutine with a context that Run's context does
// not cancel: only Close does.
func startTask(ctx context.Context, name string, f func(ctx context.Context)) *task {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &task{name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		f(ctx)
	}()
	return t
}

// stop cancels t and waits for it until ctx ends. A task never started (nil)
// has nothing to wait for.
func (t *task) stop(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.cancel()
	select {
	case <-t.done: // already done: no matter how late it is
		return nil
	default:
	}
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s did not stop within SHUTDOWN_TIMEOUT: %w", t.name, ctx.Err())
	}
}

func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (ims.Store, error) {
	if cfg.UsesPostgres() {
		log.Info("database: PostgreSQL", "url", ims.RedactURL(cfg.DatabaseURL))
		s, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.WithLogger(log))
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

// fitSchemaToReports keeps SQLite's index of providers' message IDs only
// while delivery reports are on (sqlite.Store.UseDeliveryReports says why).
// Only serve does it, not migrate: a migration run with another environment
// must not drop the index under a running service that reads it.
func fitSchemaToReports(ctx context.Context, store ims.Store, reportsOn bool, log *slog.Logger) error {
	s, ok := store.(*sqlite.Store)
	if !ok {
		return nil // PostgreSQL keeps the index: a fleet's instances share it
	}
	start := time.Now()
	changed, err := s.UseDeliveryReports(ctx, reportsOn)
	switch {
	case err != nil:
		return fmt.Errorf("SQLite: %w", err)
	case changed && reportsOn:
		log.Info("delivery reports are on: built the SQLite index of providers' message IDs", "took", time.Since(start).Round(time.Millisecond))
	case changed:
		log.Info("delivery reports are off: dropped the SQLite index of providers' message IDs, which only reports read (it is rebuilt at the first start with DLR_AUTH_KEY set)",
			"took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (m *Main) openQueue(ctx context.Context) (*rabbitmq.Queue, error) {
	cfg := m.Config
	q, err := rabbitmq.New(ctx, rabbitmq.Config{
		// Concurrency is the prefetch, not WORKER_CONCURRENCY: a handler
		// spends most of its life waiting for its renewal and its outcome
		// commit, not in the webhook call, which the scheduler's workers
		// bound. With 64 handlers for 64 workers, the workers sat idle
		// behind those round trips (issue 12: 0.33 × database mode).
		URL: cfg.RabbitMQURL, Prefix: cfg.RabbitMQPrefix, Prefetch: cfg.RabbitMQPrefetch,
		Concurrency: cfg.RabbitMQPrefetch, Logger: m.Logger,
		OnPoison: func(ctx context.Context, body []byte, reason string) {
			m.audit(ctx, ims.EventQueuePoison, reason+": "+truncate(string(body), 200))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("rabbitmq (RABBITMQ_URL %s): %w", ims.RedactURL(cfg.RabbitMQURL), err)
	}
	m.Logger.Info("queue: RabbitMQ", "url", ims.RedactURL(cfg.RabbitMQURL), "prefix", cfg.RabbitMQPrefix)
	return q, nil
}

func (m *Main) newScheduler(cache *redis.AsyncWriter) (*scheduler.Scheduler, error) {
	cfg := m.Config
	deps := scheduler.Deps{Store: m.store, Webhook: m.hook, Logger: m.Logger,
		Observer: scheduler.Observers(m.metrics, stats.Observer{Outcomes: m.outcomes, Failures: m.failures, Series: m.series})}
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
		LeaderTTL: cfg.LeaderTTL, PollInterval: cfg.PollInterval, ShutdownTimeout: drainBudget(cfg.ShutdownTimeout),
		RecordTimeout: cfg.ShutdownTimeout - drainBudget(cfg.ShutdownTimeout),
		AutoStart:     cfg.SchedulerAutoStart,
		Retry:         ims.RetryPolicy{MaxRetries: cfg.MaxRetries, BaseDelay: cfg.RetryBaseDelay, MaxDelay: cfg.RetryMaxDelay},
		Breaker:       ims.BreakerPolicy{Threshold: cfg.BreakerThreshold, FirstProbe: cfg.BreakerProbe},
		Rate:          ims.RatePolicy{Limit: cfg.RateLimit, Burst: cfg.RateBurst},
		RateUnit:      cfg.SMS.RateUnit,
		QuietHours:    cfg.SMS.QuietHours,
	}, deps)
}

// bind takes the API port. A taken port is the most common start-up
// failure, so its error says what to change (PortHint).
func (m *Main) bind() error {
	addr := net.JoinHostPort("", strconv.Itoa(m.Config.ServerPort))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s: %w — %s", addr, syscall.EADDRINUSE, m.PortHint)
	}
	if err != nil {
		return fmt.Errorf("listen on %s (SERVER_PORT): %w", addr, err)
	}
	m.listener = ln
	m.Addr = ln.Addr().String()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		m.Addr = net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return nil
}

// newServer builds the HTTP server on the bound listener; Run starts it.
func (m *Main) newServer() error {
	// Concurrent single creates share one insert (see package coalesce).
	m.creator = coalesce.New(m.store, 256)
	overview := stats.Overview{Counts: m.counts, Outcomes: m.outcomes, Scheduler: m.sched.LocalStatus, History: m.series, Fleet: m.fleet}
	deps := imshttp.Deps{
		Messages: m.creator, Audit: m.store, Scheduler: m.sched, Health: m.healthChecks(),
		Stats: overview, Console: overview,
		Reports: m.store, ObserveReports: m.reports.ObserveReports,
	}
	if m.Config.MetricsAddr == "" {
		deps.Metrics = m.metrics.Handler()
	}
	if m.cache != nil {
		deps.Cache = m.cache
	}
	handler, err := imshttp.NewServer(imshttp.Config{
		APIKey: m.Config.APIKey, MaxContentLength: m.Config.MessageMaxLength, Version: version,
		SendAtHorizon: m.Config.SendAtHorizon,
		MessageTTL:    m.Config.MessageTTL,
		MaxSegments:   m.Config.SMS.MaxSegments, PhoneValidation: m.Config.SMS.PhoneValidation,
		QuietHours: m.Config.SMS.QuietHours,
		DLRAuthKey: m.Config.DLRAuthKey, QueueModes: scheduler.Modes(),
	}, deps, m.Logger)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	m.api = handler
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
		Name: "webhook", Required: false,
		Check: func(context.Context) (string, error) {
			if err := providerHealth(m.sched.LocalStatus().ProviderStatus); err != nil {
				return "", err
			}
			h := m.outcomes.Webhook()
			if h.Degraded {
				return "", imshttp.Degraded(h.Detail)
			}
			return h.Detail, nil
		},
	})
	checks = append(checks, m.callbacksHealth())
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
// releases in-flight deliveries) and closes every connection, all within
// SHUTDOWN_TIMEOUT: past it, Close returns an error and leaves what still
// runs to the process exit (unfinished deliveries are released when their
// leases expire). It is safe after a failure at any step of Run, and a second
// call returns the first one's result.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- m.shutdown(ctx) }()
		select {
		case m.closeErr = <-done:
		case <-ctx.Done():
			m.Logger.Error("shutdown did not finish within SHUTDOWN_TIMEOUT; exiting anyway", "timeout", m.Config.ShutdownTimeout)
			m.closeErr = fmt.Errorf("shutdown did not finish within SHUTDOWN_TIMEOUT (%s)", m.Config.ShutdownTimeout)
		}
	})
	return m.closeErr
}

// shutdown stops what Run started, in reverse order, each wait bounded by ctx.
func (m *Main) shutdown(ctx context.Context) error {
	var errs []error
	if m.schedTask != nil {
		// First, so that in-flight deliveries get all of their budget
		// while the API drains.
		m.schedTask.cancel()
	}
	if m.consoleTask != nil {
		// Before Shutdown, which waits for handlers: this ends the
		// console streams, which would otherwise hold it to the timeout.
		m.consoleTask.cancel()
	}
	if m.server != nil {
		if err := m.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if m.listener != nil {
		// Bound but never served when Run failed before the end.
		if err := m.listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close listener: %w", err))
		}
	}
	if m.pprof != nil {
		errs = append(errs, m.pprof.Close())
	}
	if m.metricsSrv != nil {
		errs = append(errs, m.metricsSrv.Close())
	}
	// The coalescer writes the creates the API accepted; the cache writer
	// stops after the scheduler, so the last deliveries are still cached.
	errs = append(errs, m.retentionTask.stop(ctx), m.expiryTask.stop(ctx), m.callbacksTask.stop(ctx),
		m.consoleTask.stop(ctx), m.fleetTask.stop(ctx))
	// The failure log flushes after the last deliveries were judged.
	errs = append(errs, m.creatorTask.stop(ctx), m.schedTask.stop(ctx), m.cacheTask.stop(ctx),
		m.failuresTask.stop(ctx), m.countsTask.stop(ctx))
	if m.serving {
		m.audit(ctx, ims.EventSystemStopped, "graceful shutdown")
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
	if m.callbackSender != nil {
		m.callbackSender.Close()
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	return errors.Join(errs...)
}

// drainBudget is the part of SHUTDOWN_TIMEOUT that in-flight deliveries get
// at shutdown; the rest is kept for storing their outcomes and closing
// connections, so that the whole shutdown fits in SHUTDOWN_TIMEOUT.
func drainBudget(shutdown time.Duration) time.Duration {
	return shutdown - min(shutdown/5, 5*time.Second)
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

// providerHealth is the webhook component's verdict from the fleet's
// circuit and pause: down while the circuit is not closed, naming the
// error that opened it and since when; degraded during a throttle pause.
func providerHealth(p ims.ProviderStatus) error {
	if p.Circuit != ims.CircuitClosed && p.Circuit != "" {
		since := ""
		if p.CircuitSince != nil {
			since = " since " + p.CircuitSince.UTC().Format(time.RFC3339)
		}
		return imshttp.Down(fmt.Sprintf("circuit %s%s: %s; no webhook calls but the probe, messages wait without spending retries",
			p.Circuit, since, orNone(p.LastError)))
	}
	if p.PausedUntil != nil {
		return imshttp.Degraded("throttled by the provider: the fleet pauses until " + p.PausedUntil.UTC().Format(time.RFC3339Nano))
	}
	return nil
}
