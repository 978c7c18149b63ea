package main

// End-to-end tests of what an operator sees: health's webhook component, the
// aggregated failure log, GET /api/stats and METRICS_ADDR.

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/sink"
)

// TestE2EWrongWebhookKeyIsVisible: with a WEBHOOK_AUTH_KEY the provider
// rejects, every call fails with a 401. That is IMS's key, not the
// messages' fault: nothing is dead-lettered, the circuit opens, and it
// shows where an operator looks first — health says the webhook is down
// and names HTTP 401, and the log has an aggregated warning at the default
// level — and no key may appear in the log.
func TestE2EWrongWebhookKeyIsVisible(t *testing.T) {
	t.Parallel()
	forEachBackend(t, []backend{sqliteBackend, rabbitmqBackend}, func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{
			Configure: func(cfg *config.Config) { cfg.BreakerThreshold = 5 },
			// The receiver expects another key than the one IMS sends.
			Receiver: receiverOptions{Sink: sink.Config{AuthKey: "the-key-the-provider-expects"}},
		})
		h.createMessages(t, 5, "+905551234567")

		var health healthReport
		eventually(t, "health shows the webhook down", func() bool {
			health = h.health(t)
			require.NoError(t, health.Err, "a provider that refuses the key is not an IMS outage: 200")
			return health.Components["webhook"].Status == "down"
		})
		require.Equal(t, "degraded", health.Status)
		require.False(t, health.Components["webhook"].Required)
		require.Contains(t, health.Components["webhook"].Detail, "HTTP 401")
		require.Equal(t, "up", health.Components["database"].Status)
		require.Empty(t, h.deadLetterList(t), "a refused key dead-letters nothing")

		logs := h.logs.String()
		warn := regexp.MustCompile(`level=WARN msg="webhook delivery failed; will retry" reason="HTTP 401" count=(\d+) interval=10s example_message_id=\S+`)
		require.NotEmpty(t, warn.FindAllStringSubmatch(logs, -1), "an aggregated warning at the default level; logs:\n%s", logs)
		require.Contains(t, logs, `level=WARN msg="webhook circuit opened`)
		require.NotContains(t, logs, testWebhookKey, "the webhook key never reaches the log")
		require.NotContains(t, logs, testAPIKey, "the API key never reaches the log")
	})
}

// TestE2EWebhookHealthy: deliveries that succeed keep the component up.
func TestE2EWebhookHealthy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend, harnessOptions{})
	health := h.health(t)
	require.Equal(t, "up", health.Components["webhook"].Status)
	require.Equal(t, "no delivery attempts in the last 5m0s", health.Components["webhook"].Detail)

	h.waitStatus(t, h.createMessage(t, "+905551234567", "hi").ID, ims.StatusSent)
	eventually(t, "health counts the attempt", func() bool {
		health = h.health(t)
		return health.Components["webhook"].Detail == "1 of 1 recent attempts succeeded"
	})
	require.Equal(t, "ok", health.Status)
	require.Equal(t, "up", health.Components["webhook"].Status)
}

func TestE2EStats(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend, harnessOptions{})
	resp := h.raw(t, http.MethodGet, "/api/stats", "", headers{"Authorization": ""})
	require.Equal(t, http.StatusUnauthorized, resp.Status, "the stats need the key: %s", resp.Body)

	msgs := h.createMessages(t, 4, "+905551234567")
	h.waitAllStatus(t, msgs, ims.StatusSent)
	var st ims.Stats
	eventually(t, "the cached counts catch up", func() bool {
		st = h.stats(t)
		return st.Counts[ims.StatusSent] == int64(len(msgs))
	})
	require.NotNil(t, st.RefreshedAt)
	for _, s := range ims.Statuses {
		require.Contains(t, st.Counts, s)
	}
	require.Equal(t, time.Minute, st.Rates.Window)
	require.InDelta(t, float64(len(msgs))/60, st.Rates.Delivered, 1e-9, "this instance's deliveries over the last minute")
	require.Zero(t, st.Rates.Dead)
	require.False(t, st.Webhook.Degraded)
	require.True(t, st.Scheduler.Running)
	require.Equal(t, "db", st.Scheduler.QueueMode)
	require.Equal(t, h.Config.InstanceID, st.Scheduler.Leader)
	require.True(t, st.Scheduler.IsLeader)
}

// TestE2EServeSetsTheCollectorTarget: `ims serve` runs Go's collector at
// IMS's default target when GOGC is not in its environment (Go's own would
// be 100), and at GOGC when it is, as Go's own gauge of it on /metrics
// shows.
func TestE2EServeSetsTheCollectorTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		gcPercent int
		want      string
	}{
		{"GOGC not set", 0, "go_gc_gogc_percent 400\n"},
		{"GOGC", 150, "go_gc_gogc_percent 150\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t, "http://127.0.0.1:9/webhook")
			cfg.GCPercent = tt.gcPercent
			p := startIMS(t, cfg)
			resp := p.raw(t, http.MethodGet, "/metrics", "", nil)
			require.Equal(t, http.StatusOK, resp.Status)
			require.Contains(t, string(resp.Body), tt.want)
		})
	}
}

// TestE2EMetricsAddr: with METRICS_ADDR, /metrics is served there and no
// longer on the API port.
func TestE2EMetricsAddr(t *testing.T) {
	t.Parallel()
	t.Run("own listener", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqliteBackend, harnessOptions{Configure: func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" }})
		require.NotEmpty(t, h.Main.MetricsAddr)
		scrape := newAPIClient(t, "http://"+h.Main.MetricsAddr, "")
		eventually(t, "the message gauges after the first count", func() bool {
			resp := scrape.raw(t, http.MethodGet, "/metrics", "", nil)
			require.Equal(t, http.StatusOK, resp.Status)
			return strings.Contains(string(resp.Body), `ims_messages{status="pending"} 0`)
		})
		require.Equal(t, http.StatusNotFound, h.raw(t, http.MethodGet, "/metrics", "", nil).Status, "not on the API port")
		require.Equal(t, http.StatusNotFound, scrape.raw(t, http.MethodGet, "/api/health", "", nil).Status, "only /metrics there")
	})
	t.Run("default: on the API port", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqliteBackend, harnessOptions{})
		require.Empty(t, h.Main.MetricsAddr)
		resp := h.raw(t, http.MethodGet, "/metrics", "", headers{"Authorization": ""})
		require.Equal(t, http.StatusOK, resp.Status)
		require.Contains(t, string(resp.Body), "ims_scheduler_running 1")
	})
}
