package metrics

import (
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/stats"
)

func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	countedAt := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	m := New(StatusSource{
		Counts: func() stats.CountsSnapshot {
			return stats.CountsSnapshot{Counts: map[ims.Status]int64{ims.StatusPending: 7, ims.StatusSent: 3}, RefreshedAt: countedAt}
		},
		Scheduler: func() ims.SchedulerStatus {
			paused := countedAt.Add(time.Second)
			return ims.SchedulerStatus{Running: true, IsLeader: true, ProviderStatus: ims.ProviderStatus{
				RateLimit: 20, EffectiveRate: 0, PausedUntil: &paused, Circuit: ims.CircuitOpen}}
		},
	})
	m.CircuitChanged(ims.ChangeOpened)
	m.Throttled()

	m.Claimed(4)
	m.Delivered(ims.Outcome{Result: ims.DeliveryResult{StatusCode: 202, Latency: 3 * time.Millisecond}, Decision: ims.Decision{Status: ims.StatusSent}})
	m.Delivered(ims.Outcome{Result: ims.DeliveryResult{StatusCode: 500}, Decision: ims.Decision{Status: ims.StatusPending}})
	m.Delivered(ims.Outcome{Result: ims.DeliveryResult{Err: "timeout"}, Decision: ims.Decision{Status: ims.StatusDead}})
	m.Recorded(3, time.Millisecond, nil)
	m.StaleClaim()

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	for _, want := range []string{
		"ims_messages_claimed_total 4",
		`ims_deliveries_total{outcome="sent"} 1`,
		`ims_deliveries_total{outcome="retry"} 1`,
		`ims_deliveries_total{outcome="dead"} 1`,
		`ims_webhook_request_duration_seconds_count{class="2xx"} 1`,
		`ims_webhook_request_duration_seconds_count{class="error"} 1`,
		`ims_messages{status="pending"} 7`,
		`ims_messages{status="dead"} 0`,
		"ims_messages_counted_at_seconds 1.767366245e+09",
		"ims_scheduler_running 1",
		"ims_stale_claims_total 1",
		"ims_webhook_circuit_state 2",
		"ims_webhook_paused 1",
		"ims_webhook_effective_rate 0",
		"ims_webhook_rate_limit 20",
		`ims_webhook_circuit_changes_total{change="opened"} 1`,
		"ims_webhook_throttles_total 1",
		"go_goroutines",
	} {
		require.Contains(t, string(body), want)
	}
}

// TestMetricsBeforeFirstCount: with nothing counted yet the gauges are left
// out, rather than claiming the database is empty.
func TestMetricsBeforeFirstCount(t *testing.T) {
	t.Parallel()
	m := New(StatusSource{Counts: func() stats.CountsSnapshot { return stats.CountsSnapshot{Err: stats.ErrNotCounted} }})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, rec.Code)
	require.NotContains(t, rec.Body.String(), "ims_messages{")
	require.NotContains(t, rec.Body.String(), "ims_messages_counted_at_seconds ")
}

func TestRetentionPurgedCounter(t *testing.T) {
	t.Parallel()
	m := New(StatusSource{})
	m.Purged("sent", 1000)
	m.Purged("sent", 12)
	m.Purged("audit", 3)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	for _, want := range []string{
		`ims_retention_purged_total{kind="sent"} 1012`,
		`ims_retention_purged_total{kind="audit"} 3`,
		`ims_retention_purged_total{kind="dead"} 0`,
		`ims_retention_purged_total{kind="canceled"} 0`,
	} {
		require.Contains(t, string(body), want)
	}
}
