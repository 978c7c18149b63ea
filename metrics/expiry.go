package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/expiry"
)

// expiryReasons are the reasons the sweeper and the pipeline give.
var expiryReasons = []ims.ExpiryReason{
	ims.ExpiryStopped, ims.ExpiryCircuitOpen, ims.ExpiryThrottled, ims.ExpiryRetryAfterExpiry,
	ims.ExpiryQuietHours, ims.ExpiryBacklog,
}

func newExpiredCounter() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ims_messages_expired_total",
		Help: "Messages moved to expired, by reason: stopped, circuit_open, throttled, retry_after_expiry, quiet_hours or backlog.",
	}, []string{"reason"})
	// Every reason is exported from the start, at 0, so rate() works at once.
	for _, r := range expiryReasons {
		c.WithLabelValues(string(r))
	}
	return c
}

// Expired implements expiry.Observer; the pipeline's own expiries (a retry
// that would fall after the expiry) are counted by Delivered.
func (m *Metrics) Expired(why ims.ExpiryReason, n int) {
	m.expired.WithLabelValues(string(why)).Add(float64(n))
}

// expiredReason reads the reason back from an ExpiredDecision.
func expiredReason(d ims.Decision) ims.ExpiryReason {
	return ims.ExpiryReason(strings.TrimPrefix(d.Reason, ims.ExpiredDecision("").Reason))
}

var _ expiry.Observer = (*Metrics)(nil)
