package main

// The settings an end-to-end test runs with: the keys, the backends (a fresh
// database, and queue topology, per test), the suite's fast-paced base
// configuration, and that configuration as the environment of `ims serve`.

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/testenv"
	"github.com/insiderone/ims/rabbitmq"
)

// Keys of the harness: the API key and the webhook key differ on purpose, so
// a test notices if one is sent where the other belongs.
const (
	testAPIKey     = "e2e-api-key"
	testWebhookKey = "e2e-webhook-key"
)

// randomID returns n random bytes in hex, for unique names.
func randomID(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// backend is one storage/queue setup of IMS.
type backend struct {
	name string
	// configure points cfg at a fresh database (and queue topology) that
	// exists only for t and is removed when t ends. It skips t when the
	// service is unreachable (and fails it when CI is set).
	configure func(t *testing.T, cfg *config.Config)
}

var (
	sqliteBackend = backend{name: "sqlite", configure: func(t *testing.T, cfg *config.Config) {
		cfg.DatabaseURL = ""
		cfg.SQLitePath = filepath.Join(t.TempDir(), "ims.db")
	}}
	postgresBackend = backend{name: "postgres", configure: func(t *testing.T, cfg *config.Config) {
		cfg.DatabaseURL = testenv.PostgresURL(t)
	}}
	rabbitmqBackend = backend{name: "rabbitmq", configure: func(t *testing.T, cfg *config.Config) {
		cfg.DatabaseURL = testenv.PostgresURL(t)
		cfg.RabbitMQEnabled = true
		cfg.RabbitMQURL = testenv.RabbitMQURL(t)
		cfg.RabbitMQPrefix = "ims-e2e-" + randomID(t, 6)
		cfg.RabbitMQPrefetch = 16
		cfg.RabbitMQHandoverLease = 10 * time.Second
		url, prefix := cfg.RabbitMQURL, cfg.RabbitMQPrefix
		// Registered before the service's own cleanup, so it runs after it.
		t.Cleanup(func() { deleteRabbitMQTopology(t, url, prefix) })
	}}
)

// backends is every setup a behaviour must hold on.
func backends() []backend { return []backend{sqliteBackend, postgresBackend, rabbitmqBackend} }

// processBackends are the setups the real-binary tests run on: the two
// databases (the queue mode changes nothing about a process's life cycle).
func processBackends() []backend { return []backend{sqliteBackend, postgresBackend} }

// forEachBackend runs test as a parallel subtest per backend, named after it.
// A behaviour is written once and holds for all of them.
func forEachBackend(t *testing.T, bs []backend, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// deleteRabbitMQTopology removes the exchanges and queues IMS declared under
// prefix (rabbitmq.Topology's names).
func deleteRabbitMQTopology(t *testing.T, url, prefix string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("delete RabbitMQ topology %s: %v", prefix, err)
		return
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("delete RabbitMQ topology %s: open channel: %v", prefix, err)
		return
	}
	defer func() { _ = ch.Close() }()
	topo := rabbitmq.TopologyFor(prefix)
	for _, q := range topo.Queues() {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("delete queue %s: %v", q, err)
		}
	}
	for _, x := range topo.Exchanges() {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Errorf("delete exchange %s: %v", x, err)
		}
	}
}

// baseConfig is the service configuration of the suite before the backend
// fills in the database: a fast pace, a short webhook timeout and short
// retry delays, so that retries happen in a fraction of a second of real
// time. webhookURL is the receiver.
func baseConfig(t testing.TB, webhookURL string) config.Config {
	return config.Config{
		SQLitePath:     filepath.Join(t.TempDir(), "ims.db"),
		WebhookURL:     webhookURL,
		WebhookAuthKey: testWebhookKey,
		WebhookTimeout: 2 * time.Second,
		MaxRetries:     2,
		RetryBaseDelay: 50 * time.Millisecond,
		RetryMaxDelay:  200 * time.Millisecond,
		// The breaker's defaults: a test of it sets its own.
		BreakerThreshold: ims.DefaultBreakerThreshold,
		BreakerProbe:     ims.DefaultBreakerProbe,

		APIKey:           testAPIKey,
		ServerPort:       0,
		MessageMaxLength: ims.DefaultMaxContentLength,
		SendAtHorizon:    ims.DefaultSendAtHorizon,

		SchedulerInterval:  100 * time.Millisecond,
		SchedulerBatchSize: 10,
		SchedulerAutoStart: true,
		WorkerConcurrency:  8,
		PollInterval:       50 * time.Millisecond,
		LeaderTTL:          time.Second,
		ShutdownTimeout:    5 * time.Second,
		InstanceID:         "e2e-" + randomID(t, 4),

		RabbitMQPrefetch:      16,
		RabbitMQHandoverLease: 10 * time.Second,
		RedisCacheTTL:         time.Hour,

		StatsRefresh: 100 * time.Millisecond,

		// Delivery reports off, no default callback URL: Load's defaults.
		DLRParkTTL:               24 * time.Hour,
		StatusCallbackMaxRetries: 8,

		LogLevel:  "info",
		LogFormat: "text",
		GCPercent: config.DefaultGCPercent,

		SMS: defaultSMS(t),
	}
}

// defaultSMS is the SMS settings' defaults, as config.Load reads them.
func defaultSMS(t testing.TB) config.SMS {
	q, err := ims.ParseQuietHours("", "UTC", false)
	require.NoError(t, err)
	return config.SMS{PhoneValidation: ims.PhoneE164, RateUnit: ims.RateUnitMessages, QuietHours: q}
}

// quietHoursWindow is QUIET_HOURS for q: empty when off.
func quietHoursWindow(q ims.QuietHours) string {
	if !q.Enabled() {
		return ""
	}
	return q.String()
}

// gcPercentEnv is GOGC for a collector target: off for -1, and not set
// for 0 (so that IMS's default, not Go's, is what the process starts with).
func gcPercentEnv(p int) string {
	switch {
	case p < 0:
		return "off"
	case p == 0:
		return ""
	}
	return strconv.Itoa(p)
}

// configEnv is cfg as the environment variables `ims serve` reads.
func configEnv(cfg config.Config) []string {
	env := map[string]string{
		"DATABASE_URL":              cfg.DatabaseURL,
		"SQLITE_PATH":               cfg.SQLitePath,
		"WEBHOOK_URL":               cfg.WebhookURL,
		"WEBHOOK_AUTH_KEY":          cfg.WebhookAuthKey,
		"WEBHOOK_SIGNING_SECRET":    cfg.WebhookSigningKey,
		"WEBHOOK_TIMEOUT":           cfg.WebhookTimeout.String(),
		"WEBHOOK_MAX_RETRIES":       strconv.Itoa(cfg.MaxRetries),
		"WEBHOOK_RETRY_BASE_DELAY":  cfg.RetryBaseDelay.String(),
		"WEBHOOK_RETRY_MAX_DELAY":   cfg.RetryMaxDelay.String(),
		"WEBHOOK_BREAKER_THRESHOLD": strconv.Itoa(cfg.BreakerThreshold),
		"WEBHOOK_BREAKER_PROBE":     cfg.BreakerProbe.String(),
		"WEBHOOK_RATE_LIMIT":        strconv.FormatFloat(cfg.RateLimit, 'g', -1, 64),
		"WEBHOOK_RATE_BURST":        strconv.FormatFloat(cfg.RateBurst, 'g', -1, 64),
		"API_KEY":                   cfg.APIKey,
		"SERVER_PORT":               strconv.Itoa(cfg.ServerPort),
		"MESSAGE_MAX_LENGTH":        strconv.Itoa(cfg.MessageMaxLength),
		"SEND_AT_HORIZON":           cfg.SendAtHorizon.String(),
		"MESSAGE_TTL":               cfg.MessageTTL.String(),
		"SCHEDULER_INTERVAL":        cfg.SchedulerInterval.String(),
		"SCHEDULER_BATCH_SIZE":      strconv.Itoa(cfg.SchedulerBatchSize),
		"SCHEDULER_AUTO_START":      strconv.FormatBool(cfg.SchedulerAutoStart),
		"WORKER_CONCURRENCY":        strconv.Itoa(cfg.WorkerConcurrency),
		"POLL_INTERVAL":             cfg.PollInterval.String(),
		"LEADER_TTL":                cfg.LeaderTTL.String(),
		"SHUTDOWN_TIMEOUT":          cfg.ShutdownTimeout.String(),
		"INSTANCE_ID":               cfg.InstanceID,
		"RABBITMQ_ENABLED":          strconv.FormatBool(cfg.RabbitMQEnabled),
		"RABBITMQ_URL":              cfg.RabbitMQURL,
		"RABBITMQ_PREFIX":           cfg.RabbitMQPrefix,
		"RABBITMQ_PREFETCH":         strconv.Itoa(cfg.RabbitMQPrefetch),
		"RABBITMQ_HANDOVER_LEASE":   cfg.RabbitMQHandoverLease.String(),
		"REDIS_URL":                 cfg.RedisURL,
		"REDIS_CACHE_TTL":           cfg.RedisCacheTTL.String(),
		"RETENTION_SENT":            cfg.RetentionSent.String(),
		"RETENTION_DEAD":            cfg.RetentionDead.String(),
		"RETENTION_AUDIT":           cfg.RetentionAudit.String(),
		"LOG_LEVEL":                 cfg.LogLevel,
		"LOG_FORMAT":                cfg.LogFormat,
		"GOGC":                      gcPercentEnv(cfg.GCPercent),
		"METRICS_ADDR":              cfg.MetricsAddr,
		"STATS_REFRESH":             cfg.StatsRefresh.String(),
		"MESSAGE_MAX_SEGMENTS":      strconv.Itoa(cfg.SMS.MaxSegments),
		"PHONE_VALIDATION":          string(cfg.SMS.PhoneValidation),
		"WEBHOOK_RATE_UNIT":         string(cfg.SMS.RateUnit),
		"QUIET_HOURS":               quietHoursWindow(cfg.SMS.QuietHours),
		"QUIET_HOURS_DEFAULT_TZ":    cfg.SMS.QuietHours.Location("").String(),
		"QUIET_HOURS_HIGH":          strconv.FormatBool(cfg.SMS.QuietHours.High),

		"DLR_AUTH_KEY":                cfg.DLRAuthKey,
		"DLR_PARK_TTL":                cfg.DLRParkTTL.String(),
		"STATUS_CALLBACK_URL":         cfg.StatusCallbackURL,
		"STATUS_CALLBACK_SECRET":      cfg.StatusCallbackSecret,
		"STATUS_CALLBACK_MAX_RETRIES": strconv.Itoa(cfg.StatusCallbackMaxRetries),
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return out
}

// TestConfigEnvRoundTrip keeps configEnv in step with config.Load: the
// process tests would otherwise run the binary with settings other than
// the ones they think.
func TestConfigEnvRoundTrip(t *testing.T) {
	t.Parallel()
	want := baseConfig(t, "http://127.0.0.1:9/webhook")
	want.DatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres"
	want.WebhookSigningKey = "signing-secret"
	want.RabbitMQEnabled, want.RabbitMQURL, want.RabbitMQPrefix = true, "amqp://guest:guest@127.0.0.1:5672/", "ims-e2e"
	want.RedisURL = "redis://127.0.0.1:6379/0"
	want.MetricsAddr = "127.0.0.1:9100"
	want.DLRAuthKey, want.StatusCallbackURL, want.StatusCallbackSecret = "dlr-key", "https://cb.example/ims", "cb-secret"

	env := map[string]string{}
	for _, kv := range configEnv(want) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	got, err := config.Load(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	require.NoError(t, err)
	require.Equal(t, want, got)
}
