package main

// End-to-end tests of what an operator sees: health's webhook component, the
// aggregated failure log, GET /api/stats and METRICS_ADDR.

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/sink"
)

// healthAnswer is the part of GET /api/health these tests read.
type healthAnswer struct {
	Status     string
	Components map[string]struct {
		Status   string
		Required bool
		Detail   string
	}
}

// TestE2EWrongWebhookKeyIsVisible: with a WEBHOOK_AUTH_KEY the provider
// rejects, every message goes dead with a 401. That must show where an
// operator looks first — health says degraded and names HTTP 401, and the
// log has an aggregated warning at the default level — and no key may
// appear in the log.
func TestE2EWrongWebhookKeyIsVisible(t *testing.T) {
	t.Parallel()
	forEachBackend(t, []backend{sqliteBackend, rabbitmqBackend}, func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{
			// The receiver expects another key than the one IMS sends.
			Receiver: receiverOptions{Sink: sink.Config{AuthKey: "the-key-the-provider-expects"}},
		})
		msgs := h.createMessages(t, 5, "+905551234567")
		h.waitAllStatus(t, msgs, ims.StatusDead)

		var health healthAnswer
		eventually(t, "health shows the webhook degraded", func() bool {
			resp := h.do(t, http.MethodGet, "/api/health", nil, headers{"Authorization": ""})
			require.Equal(t, http.StatusOK, resp.Status, "degraded is still 200: %s", resp.Body)
			resp.decode(t, &health)
			return health.Components["webhook"].Status == "degraded"
		})
		require.Equal(t, "degraded", health.Status)
		require.False(t, health.Components["webhook"].Required)
		require.Contains(t, health.Components["webhook"].Detail, "HTTP 401")
		require.Equal(t, "up", health.Components["database"].Status)

		logs := h.logs.String()
		warn := regexp.MustCompile(`level=WARN msg="webhook delivery failed; message dead-lettered" reason="HTTP 401" count=(\d+) interval=10s example_message_id=\S+`)
		lines := warn.FindAllStringSubmatch(logs, -1)
		require.NotEmpty(t, lines, "an aggregated warning at the default level; logs:\n%s", logs)
		require.Less(t, len(lines), len(msgs), "aggregated: fewer lines than failures")
		require.NotContains(t, logs, testWebhookKey, "the webhook key never reaches the log")
		require.NotContains(t, logs, testAPIKey, "the API key never reaches the log")

		// The lines' counts add up to every failure once the service has
		// stopped (the last, partial interval is flushed on the way out).
		h.stop(t)
		total := 0
		for _, l := range warn.FindAllStringSubmatch(h.logs.String(), -1) {
			n, err := strconv.Atoi(l[1])
			require.NoError(t, err)
			total += n
		}
		require.Equal(t, len(msgs), total)
	})
}

// TestE2EWebhookHealthy: deliveries that succeed keep the component up.
func TestE2EWebhookHealthy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend, harnessOptions{})
	var health healthAnswer
	resp := h.do(t, http.MethodGet, "/api/health", nil, headers{"Authorization": ""})
	resp.decode(t, &health)
	require.Equal(t, "up", health.Components["webhook"].Status)
	require.Equal(t, "no delivery attempts in the last 5m0s", health.Components["webhook"].Detail)

	h.waitStatus(t, h.createMessage(t, "+905551234567", "hi").ID, ims.StatusSent)
	eventually(t, "health counts the attempt", func() bool {
		h.do(t, http.MethodGet, "/api/health", nil, headers{"Authorization": ""}).decode(t, &health)
		return health.Components["webhook"].Detail == "1 of 1 recent attempts succeeded"
	})
	require.Equal(t, "ok", health.Status)
	require.Equal(t, "up", health.Components["webhook"].Status)
}

// statsAnswer is GET /api/stats.
type statsAnswer struct {
	Counts      map[string]int64 `json:"counts"`
	RefreshedAt *time.Time       `json:"refreshed_at"`
	Rates       struct {
		Window    string  `json:"window"`
		Delivered float64 `json:"delivered_per_second"`
		Dead      float64 `json:"dead_per_second"`
	} `json:"rates"`
	Webhook struct {
		Degraded bool   `json:"degraded"`
		Detail   string `json:"detail"`
	} `json:"webhook"`
	Scheduler struct {
		Running   bool   `json:"running"`
		QueueMode string `json:"queue_mode"`
		Leader    string `json:"leader"`
		IsLeader  bool   `json:"is_leader"`
	} `json:"scheduler"`
}

func TestE2EStats(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend, harnessOptions{})
	resp := h.do(t, http.MethodGet, "/api/stats", nil, headers{"Authorization": ""})
	require.Equal(t, http.StatusUnauthorized, resp.Status, "the stats need the key: %s", resp.Body)

	msgs := h.createMessages(t, 4, "+905551234567")
	h.waitAllStatus(t, msgs, ims.StatusSent)
	var st statsAnswer
	eventually(t, "the cached counts catch up", func() bool {
		h.getOK(t, "/api/stats", &st)
		return st.Counts["sent"] == int64(len(msgs))
	})
	require.NotNil(t, st.RefreshedAt)
	for _, s := range ims.Statuses {
		require.Contains(t, st.Counts, string(s))
	}
	require.Equal(t, "1m0s", st.Rates.Window)
	require.InDelta(t, float64(len(msgs))/60, st.Rates.Delivered, 1e-9, "this instance's deliveries over the last minute")
	require.Zero(t, st.Rates.Dead)
	require.False(t, st.Webhook.Degraded)
	require.True(t, st.Scheduler.Running)
	require.Equal(t, "db", st.Scheduler.QueueMode)
	require.Equal(t, h.Config.InstanceID, st.Scheduler.Leader)
	require.True(t, st.Scheduler.IsLeader)
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
			resp := scrape.get(t, "/metrics")
			require.Equal(t, http.StatusOK, resp.Status)
			return strings.Contains(string(resp.Body), `ims_messages{status="pending"} 0`)
		})
		require.Equal(t, http.StatusNotFound, h.get(t, "/metrics").Status, "not on the API port")
		require.Equal(t, http.StatusNotFound, scrape.get(t, "/api/health").Status, "only /metrics there")
	})
	t.Run("default: on the API port", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqliteBackend, harnessOptions{})
		require.Empty(t, h.Main.MetricsAddr)
		resp := h.do(t, http.MethodGet, "/metrics", nil, headers{"Authorization": ""})
		require.Equal(t, http.StatusOK, resp.Status)
		require.Contains(t, string(resp.Body), "ims_scheduler_running 1")
	})
}
