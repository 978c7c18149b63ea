package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func lookupFrom(env map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func minimal(extra map[string]string) map[string]string {
	env := map[string]string{"WEBHOOK_URL": "http://127.0.0.1:9999/hook", "WEBHOOK_AUTH_KEY": "k", "API_KEY": "api"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(lookupFrom(minimal(nil)))
	require.NoError(t, err)
	require.Equal(t, 8080, c.ServerPort)
	require.Equal(t, 2*time.Minute, c.SchedulerInterval)
	require.Equal(t, 2, c.SchedulerBatchSize)
	require.Equal(t, 160, c.MessageMaxLength)
	require.Equal(t, 30*time.Second, c.WebhookTimeout)
	require.Equal(t, 3, c.MaxRetries)
	require.True(t, c.SchedulerAutoStart)
	require.False(t, c.RabbitMQEnabled)
	require.Equal(t, "k", c.WebhookAuthKey)
	require.Equal(t, "api", c.APIKey)
	require.Equal(t, "db", c.QueueMode())
	require.False(t, c.UsesPostgres())
	require.Greater(t, c.Lease(), c.WebhookTimeout)
	require.Empty(t, c.MetricsAddr, "/metrics is on the API port unless METRICS_ADDR is set")
	require.Equal(t, 5*time.Second, c.StatsRefresh)
	require.Equal(t, 20, c.BreakerThreshold)
	require.Equal(t, 5*time.Second, c.BreakerProbe)
	require.Zero(t, c.RateLimit, "no rate limit unless set")
	require.Zero(t, c.RateBurst, "one second's worth, filled in by the limiter")
	require.Equal(t, DefaultGCPercent, c.GCPercent, "IMS's collector target unless GOGC is set")
}

func TestLoadGCPercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, gogc string
		want       int
	}{
		{"a percentage", "150", 150},
		{"off", "off", -1},
		{"off in capitals", "OFF", -1},
		{"the largest", "1000000", 1_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(lookupFrom(minimal(map[string]string{"GOGC": tt.gogc})))
			require.NoError(t, err)
			require.Equal(t, tt.want, c.GCPercent)
		})
	}
}

func TestLoadProviderSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(lookupFrom(minimal(map[string]string{
		"WEBHOOK_BREAKER_THRESHOLD": "5", "WEBHOOK_BREAKER_PROBE": "250ms",
		"WEBHOOK_RATE_LIMIT": "0.5", "WEBHOOK_RATE_BURST": "3",
	})))
	require.NoError(t, err)
	require.Equal(t, 5, c.BreakerThreshold)
	require.Equal(t, 250*time.Millisecond, c.BreakerProbe)
	require.Equal(t, 0.5, c.RateLimit, "fractional rates are allowed")
	require.Equal(t, 3.0, c.RateBurst)
}

func TestLoadOverrides(t *testing.T) {
	t.Parallel()
	c, err := Load(lookupFrom(minimal(map[string]string{
		"API_KEY": "other-api", "SCHEDULER_INTERVAL": "0", "SCHEDULER_BATCH_SIZE": "500",
		"RABBITMQ_ENABLED": "true", "DATABASE_URL": "postgres://u@h/db", "LOG_LEVEL": "DEBUG",
		"METRICS_ADDR": "127.0.0.1:9100", "STATS_REFRESH": "30s",
	})))
	require.NoError(t, err)
	require.Equal(t, "other-api", c.APIKey)
	require.Equal(t, time.Duration(0), c.SchedulerInterval)
	require.Equal(t, 500, c.SchedulerBatchSize)
	require.Equal(t, "rabbitmq", c.QueueMode())
	require.True(t, c.UsesPostgres())
	require.Equal(t, "debug", c.LogLevel)
	require.Equal(t, "127.0.0.1:9100", c.MetricsAddr)
	require.Equal(t, 30*time.Second, c.StatsRefresh)
}

func TestLoadRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"missing webhook url", map[string]string{"WEBHOOK_AUTH_KEY": "k", "API_KEY": "api"}, "WEBHOOK_URL is required"},
		{"relative webhook url", minimal(map[string]string{"WEBHOOK_URL": "/hook"}), "WEBHOOK_URL must be an absolute"},
		{"missing auth key", map[string]string{"WEBHOOK_URL": "http://x/", "API_KEY": "api"}, "WEBHOOK_AUTH_KEY is required"},
		{"missing api key", minimal(map[string]string{"API_KEY": ""}), "API_KEY is required"},
		{"blank api key", minimal(map[string]string{"API_KEY": "   "}), "API_KEY is required"},
		{"api key is the webhook key", minimal(map[string]string{"API_KEY": "k"}), "API_KEY must differ from WEBHOOK_AUTH_KEY"},
		{"api key is the webhook key after trimming", minimal(map[string]string{"API_KEY": " k "}), "API_KEY must differ from WEBHOOK_AUTH_KEY"},
		{"bad port", minimal(map[string]string{"SERVER_PORT": "http"}), `SERVER_PORT must be an integer from 0 to 65535, got "http"`},
		{"port out of range", minimal(map[string]string{"SERVER_PORT": "70000"}), "SERVER_PORT must be an integer"},
		{"bad interval", minimal(map[string]string{"SCHEDULER_INTERVAL": "soon"}), "SCHEDULER_INTERVAL must be a Go duration"},
		{"zero batch", minimal(map[string]string{"SCHEDULER_BATCH_SIZE": "0"}), "SCHEDULER_BATCH_SIZE must be an integer from 1"},
		{"bad bool", minimal(map[string]string{"RABBITMQ_ENABLED": "yes please"}), "RABBITMQ_ENABLED must be true or false"},
		{"handover lease below the claim lease", minimal(map[string]string{"RABBITMQ_ENABLED": "true", "WEBHOOK_TIMEOUT": "30s", "RABBITMQ_HANDOVER_LEASE": "10s"}),
			"RABBITMQ_HANDOVER_LEASE must be at least the claim lease, WEBHOOK_TIMEOUT + max(5s, WEBHOOK_TIMEOUT/4) = 37.5s, got 10s"},
		{"bad log level", minimal(map[string]string{"LOG_LEVEL": "loud"}), "LOG_LEVEL must be one of debug, info, warn, error"},
		{"mysql url", minimal(map[string]string{"DATABASE_URL": "mysql://x"}), "DATABASE_URL must be a postgres://"},
		{"max below base", minimal(map[string]string{"WEBHOOK_RETRY_BASE_DELAY": "1m", "WEBHOOK_RETRY_MAX_DELAY": "1s"}), "WEBHOOK_RETRY_MAX_DELAY must be at least"},
		{"metrics addr without port", minimal(map[string]string{"METRICS_ADDR": "127.0.0.1"}), "METRICS_ADDR must be host:port"},
		{"metrics addr on the api port", minimal(map[string]string{"METRICS_ADDR": ":8080"}), "METRICS_ADDR must use another port than SERVER_PORT"},
		{"gc percent zero", minimal(map[string]string{"GOGC": "0"}), `GOGC must be a percentage from 1 to 1000000, or off, got "0"`},
		{"gc percent not a number", minimal(map[string]string{"GOGC": "auto"}), "GOGC must be a percentage"},
		{"stats refresh too short", minimal(map[string]string{"STATS_REFRESH": "1ms"}), "STATS_REFRESH must be a Go duration"},
		{"bad redis url", minimal(map[string]string{"REDIS_URL": "localhost:6379"}), "REDIS_URL must be a redis://"},
		{"zero breaker threshold", minimal(map[string]string{"WEBHOOK_BREAKER_THRESHOLD": "0"}), "WEBHOOK_BREAKER_THRESHOLD must be an integer from 1"},
		{"bad breaker probe", minimal(map[string]string{"WEBHOOK_BREAKER_PROBE": "5"}), "WEBHOOK_BREAKER_PROBE must be a Go duration"},
		{"breaker probe past its cap", minimal(map[string]string{"WEBHOOK_BREAKER_PROBE": "5m"}), "WEBHOOK_BREAKER_PROBE must be at most 2m0s"},
		{"negative rate", minimal(map[string]string{"WEBHOOK_RATE_LIMIT": "-1"}), "WEBHOOK_RATE_LIMIT must be calls per second"},
		{"rate not a number", minimal(map[string]string{"WEBHOOK_RATE_LIMIT": "fast"}), `WEBHOOK_RATE_LIMIT must be calls per second for the whole fleet, fractional allowed, 0 for none, got "fast"`},
		{"infinite rate", minimal(map[string]string{"WEBHOOK_RATE_LIMIT": "Inf"}), "WEBHOOK_RATE_LIMIT must be calls per second"},
		{"burst below one call", minimal(map[string]string{"WEBHOOK_RATE_LIMIT": "10", "WEBHOOK_RATE_BURST": "0.5"}), "WEBHOOK_RATE_BURST must be calls that may go at once, at least 1"},
		{"burst without a limit", minimal(map[string]string{"WEBHOOK_RATE_BURST": "5"}), "WEBHOOK_RATE_BURST needs WEBHOOK_RATE_LIMIT"},
		{"retention without unit", minimal(map[string]string{"RETENTION_SENT": "720"}), `RETENTION_SENT must be 0 (keep forever) or a Go duration of at least 1h such as 720h, got "720"`},
		{"retention too short", minimal(map[string]string{"RETENTION_DEAD": "720s"}), "RETENTION_DEAD must be 0 (keep forever) or a Go duration of at least 1h"},
		{"negative retention", minimal(map[string]string{"RETENTION_AUDIT": "-1h"}), "RETENTION_AUDIT must be 0 (keep forever)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(lookupFrom(tt.env))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestLoadRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		env                 map[string]string
		sent, dead, auditTo time.Duration
	}{
		{"defaults", nil, 720 * time.Hour, 2160 * time.Hour, 2160 * time.Hour},
		{"0 keeps forever", map[string]string{"RETENTION_SENT": "0", "RETENTION_DEAD": "0s", "RETENTION_AUDIT": "0"}, 0, 0, 0},
		{"overrides", map[string]string{"RETENTION_SENT": "24h", "RETENTION_DEAD": "1h", "RETENTION_AUDIT": "8760h"}, 24 * time.Hour, time.Hour, 8760 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(lookupFrom(minimal(tt.env)))
			require.NoError(t, err)
			require.Equal(t, tt.sent, c.RetentionSent)
			require.Equal(t, tt.dead, c.RetentionDead)
			require.Equal(t, tt.auditTo, c.RetentionAudit)
		})
	}
}

// TestLoadDatabase: `ims migrate` reads the database and log settings by
// Load's rules and needs nothing else (no webhook, no API key).
func TestLoadDatabase(t *testing.T) {
	t.Parallel()
	c, err := LoadDatabase(lookupFrom(nil))
	require.NoError(t, err)
	require.Equal(t, Config{SQLitePath: "ims.db", LogLevel: "info", LogFormat: "text"}, c)

	env := map[string]string{"DATABASE_URL": " postgres://db/ims ", "LOG_LEVEL": "debug", "LOG_FORMAT": "json"}
	c, err = LoadDatabase(lookupFrom(env))
	require.NoError(t, err)
	full, err := Load(lookupFrom(minimal(env)))
	require.NoError(t, err)
	require.Equal(t, Config{DatabaseURL: full.DatabaseURL, SQLitePath: full.SQLitePath, LogLevel: full.LogLevel,
		LogFormat: full.LogFormat}, c, "the same values Load reads")
	require.Equal(t, "postgres://db/ims", c.DatabaseURL)

	_, err = LoadDatabase(lookupFrom(map[string]string{"DATABASE_URL": "mysql://x"}))
	require.ErrorContains(t, err, "DATABASE_URL must be a postgres://")
	_, err = LoadDatabase(lookupFrom(map[string]string{"LOG_LEVEL": "loud"}))
	require.ErrorContains(t, err, "LOG_LEVEL must be one of")
}

func TestLoadServerPort(t *testing.T) {
	t.Parallel()
	port, err := LoadServerPort(lookupFrom(nil))
	require.NoError(t, err)
	require.Equal(t, 8080, port)
	port, err = LoadServerPort(lookupFrom(map[string]string{"SERVER_PORT": "9090"}))
	require.NoError(t, err)
	require.Equal(t, 9090, port)
	_, err = LoadServerPort(lookupFrom(map[string]string{"SERVER_PORT": "http"}))
	require.ErrorContains(t, err, `SERVER_PORT must be an integer from 0 to 65535, got "http"`)
}
