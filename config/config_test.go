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
	env := map[string]string{"WEBHOOK_URL": "http://127.0.0.1:9999/hook", "WEBHOOK_AUTH_KEY": "k"}
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
	require.Equal(t, "k", c.APIKey, "API_KEY defaults to WEBHOOK_AUTH_KEY")
	require.Equal(t, "db", c.QueueMode())
	require.False(t, c.UsesPostgres())
	require.Greater(t, c.Lease(), c.WebhookTimeout)
}

func TestLoadOverrides(t *testing.T) {
	t.Parallel()
	c, err := Load(lookupFrom(minimal(map[string]string{
		"API_KEY": "api", "SCHEDULER_INTERVAL": "0", "SCHEDULER_BATCH_SIZE": "500",
		"RABBITMQ_ENABLED": "true", "DATABASE_URL": "postgres://u@h/db", "LOG_LEVEL": "DEBUG",
	})))
	require.NoError(t, err)
	require.Equal(t, "api", c.APIKey)
	require.Equal(t, time.Duration(0), c.SchedulerInterval)
	require.Equal(t, 500, c.SchedulerBatchSize)
	require.Equal(t, "rabbitmq", c.QueueMode())
	require.True(t, c.UsesPostgres())
	require.Equal(t, "debug", c.LogLevel)
}

func TestLoadRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"missing webhook url", map[string]string{"WEBHOOK_AUTH_KEY": "k"}, "WEBHOOK_URL is required"},
		{"relative webhook url", minimal(map[string]string{"WEBHOOK_URL": "/hook"}), "WEBHOOK_URL must be an absolute"},
		{"missing auth key", map[string]string{"WEBHOOK_URL": "http://x/"}, "WEBHOOK_AUTH_KEY is required"},
		{"bad port", minimal(map[string]string{"SERVER_PORT": "http"}), `SERVER_PORT must be an integer from 0 to 65535, got "http"`},
		{"port out of range", minimal(map[string]string{"SERVER_PORT": "70000"}), "SERVER_PORT must be an integer"},
		{"bad interval", minimal(map[string]string{"SCHEDULER_INTERVAL": "soon"}), "SCHEDULER_INTERVAL must be a Go duration"},
		{"zero batch", minimal(map[string]string{"SCHEDULER_BATCH_SIZE": "0"}), "SCHEDULER_BATCH_SIZE must be an integer from 1"},
		{"bad bool", minimal(map[string]string{"RABBITMQ_ENABLED": "yes please"}), "RABBITMQ_ENABLED must be true or false"},
		{"bad log level", minimal(map[string]string{"LOG_LEVEL": "loud"}), "LOG_LEVEL must be one of debug, info, warn, error"},
		{"mysql url", minimal(map[string]string{"DATABASE_URL": "mysql://x"}), "DATABASE_URL must be a postgres://"},
		{"max below base", minimal(map[string]string{"WEBHOOK_RETRY_BASE_DELAY": "1m", "WEBHOOK_RETRY_MAX_DELAY": "1s"}), "WEBHOOK_RETRY_MAX_DELAY must be at least"},
		{"bad redis url", minimal(map[string]string{"REDIS_URL": "localhost:6379"}), "REDIS_URL must be a redis://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(lookupFrom(tt.env))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
