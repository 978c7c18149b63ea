package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/callbacks"
)

// Reports counts delivery reports and status callbacks, on the registry of
// the Metrics it was made with.
type Reports struct {
	reports  *prometheus.CounterVec
	purged   prometheus.Counter
	callback *prometheus.CounterVec
}

// NewReports registers the delivery-report and callback metrics on m (call
// it once per Metrics); pending reads the outbox counts from memory (the
// dispatcher's Status) at scrape time.
func NewReports(m *Metrics, pending func() map[ims.CallbackState]int64) *Reports {
	r := &Reports{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ims_delivery_reports_total",
			Help: "Delivery reports received, by outcome: applied, ignored (superseded), duplicate, parked (no message has the provider id yet).",
		}, []string{"outcome"}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ims_delivery_reports_unmatched_purged_total",
			Help: "Parked delivery reports purged after DLR_PARK_TTL without meeting their message (unknown provider ids).",
		}),
		callback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ims_status_callbacks_total", Help: "Status callback attempts by result: delivered, retry, given_up.",
		}, []string{"result"}),
	}
	for _, o := range []ims.ReportOutcome{ims.ReportApplied, ims.ReportIgnored, ims.ReportDuplicate, ims.ReportParked} {
		r.reports.WithLabelValues(string(o))
	}
	for _, res := range callbacks.Results {
		r.callback.WithLabelValues(res)
	}
	outbox := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ims_status_callbacks_pending", Help: "Status callbacks waiting in the outbox (as of the dispatcher's last count).",
	}, func() float64 { return float64(pending()[ims.CallbackPending]) })
	failed := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ims_status_callbacks_given_up", Help: "Status callbacks given up and still kept in the outbox.",
	}, func() float64 { return float64(pending()[ims.CallbackFailed]) })
	m.registry.MustRegister(r.reports, r.purged, r.callback, outbox, failed)
	return r
}

// ObserveReports counts what one POST /api/delivery-reports did.
func (r *Reports) ObserveReports(results []ims.ReportResult) {
	for _, res := range results {
		r.reports.WithLabelValues(string(res.Outcome)).Inc()
	}
}

// CallbackDone implements callbacks.Observer.
func (r *Reports) CallbackDone(result string) { r.callback.WithLabelValues(result).Inc() }

// ParkedReportsPurged implements callbacks.Observer.
func (r *Reports) ParkedReportsPurged(n int) { r.purged.Add(float64(n)) }

var _ callbacks.Observer = (*Reports)(nil)
