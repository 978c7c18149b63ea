package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	m := New(StatusSource{
		Counts: func(context.Context) (map[ims.Status]int64, error) {
			return map[ims.Status]int64{ims.StatusPending: 7, ims.StatusSent: 3}, nil
		},
		Scheduler: func() ims.SchedulerStatus { return ims.SchedulerStatus{Running: true, IsLeader: true} },
	}, slog.New(slog.DiscardHandler))

	m.Claimed(4)
	m.Delivered(ims.DeliveryResult{StatusCode: 202, Latency: 3 * time.Millisecond}, ims.Decision{Status: ims.StatusSent})
	m.Delivered(ims.DeliveryResult{StatusCode: 500}, ims.Decision{Status: ims.StatusPending})
	m.Delivered(ims.DeliveryResult{Err: "timeout"}, ims.Decision{Status: ims.StatusDead})
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
		"ims_scheduler_running 1",
		"ims_stale_claims_total 1",
		"go_goroutines",
	} {
		require.Contains(t, string(body), want)
	}
}
