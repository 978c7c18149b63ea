package metrics

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/stats"
)

func TestReportsExposition(t *testing.T) {
	t.Parallel()
	m := New(StatusSource{Counts: func() stats.CountsSnapshot { return stats.CountsSnapshot{} },
		Scheduler: func() ims.SchedulerStatus { return ims.SchedulerStatus{} }})
	r := NewReports(m, func() map[ims.CallbackState]int64 {
		return map[ims.CallbackState]int64{ims.CallbackPending: 5, ims.CallbackFailed: 2}
	})
	r.ObserveReports([]ims.ReportResult{{Outcome: ims.ReportApplied}, {Outcome: ims.ReportParked}, {Outcome: ims.ReportParked}})
	r.CallbackDone("delivered")
	r.CallbackDone("given_up")
	r.ParkedReportsPurged(3)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	for _, want := range []string{
		`ims_delivery_reports_total{outcome="applied"} 1`,
		`ims_delivery_reports_total{outcome="parked"} 2`,
		`ims_delivery_reports_total{outcome="duplicate"} 0`,
		`ims_delivery_reports_unmatched_purged_total 3`,
		`ims_status_callbacks_total{result="delivered"} 1`,
		`ims_status_callbacks_total{result="given_up"} 1`,
		`ims_status_callbacks_total{result="retry"} 0`,
		`ims_status_callbacks_pending 5`,
		`ims_status_callbacks_given_up 2`,
	} {
		require.Contains(t, string(body), want)
	}
}
