package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/insiderone/ims/internal/retention"
)

func newPurgedCounter() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ims_retention_purged_total", Help: "Rows deleted by retention, by kind: sent, canceled, dead, expired (messages, with their attempts) or audit (events).",
	}, []string{"kind"})
	// Every kind is exported from the start, at 0, so rate() works at once.
	for _, k := range []string{retention.KindSent, retention.KindCanceled, retention.KindDead, retention.KindExpired, retention.KindAudit} {
		c.WithLabelValues(k)
	}
	return c
}

// Purged implements retention.Observer.
func (m *Metrics) Purged(kind string, n int) { m.purged.WithLabelValues(kind).Add(float64(n)) }

var _ retention.Observer = (*Metrics)(nil)
