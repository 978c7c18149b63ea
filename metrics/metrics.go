// Package metrics exposes IMS's Prometheus metrics: delivery counters and
// latencies fed by the scheduler (it implements scheduler.Observer), and
// message counts by status read from a cache (stats.Counts) when scraped: a
// scrape never queries the database, so /metrics, which needs no key, is no
// lever on it.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/stats"
)

// Metrics owns a registry of its own (no global state) and the collectors.
type Metrics struct {
	registry   *prometheus.Registry
	claimed    prometheus.Counter
	deliveries *prometheus.CounterVec
	webhook    *prometheus.HistogramVec
	recorded   prometheus.Histogram
	recordErrs prometheus.Counter
	stale      prometheus.Counter
	circuit    *prometheus.CounterVec
	throttles  prometheus.Counter
	purged     *prometheus.CounterVec // see retention.go
	expired    *prometheus.CounterVec // see expiry.go
}

// StatusSource reports what the gauges show at scrape time. Both must answer
// from memory: they run on every scrape.
type StatusSource struct {
	// Counts returns the cached message counts (stats.Counts.Snapshot).
	Counts    func() stats.CountsSnapshot
	Scheduler func() ims.SchedulerStatus
}

// maxScrapesInFlight bounds concurrent scrapes: each gathers every metric, so
// a flood beyond it is answered 503 at once instead of piling up.
const maxScrapesInFlight = 8

// New registers every IMS metric plus the Go and process collectors.
func New(src StatusSource) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		claimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ims_messages_claimed_total", Help: "Messages claimed for delivery (each attempt counts).",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ims_deliveries_total", Help: "Webhook deliveries by outcome: sent, retry (pending again), dead or expired (the retry would fall after the expiry).",
		}, []string{"outcome"}),
		webhook: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ims_webhook_request_duration_seconds", Help: "Webhook call latency by answer class (2xx, 4xx, 5xx, error).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"class"}),
		recorded: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ims_outcome_batch_size", Help: "Outcomes stored per database transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		recordErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ims_outcome_write_errors_total", Help: "Outcome batches that could not be stored (their messages are retried after the lease).",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ims_stale_claims_total", Help: "Queue entries dropped because the database no longer assigns them (duplicates, late entries).",
		}),
		circuit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ims_webhook_circuit_changes_total", Help: "Changes of the fleet's circuit made by this instance: opened, closed, probe_failed.",
		}, []string{"change"}),
		throttles: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ims_webhook_throttles_total", Help: "Provider throttles (429, or 503 with Retry-After) that paused the fleet, seen by this instance.",
		}),
	}
	m.registry.MustRegister(m.claimed, m.deliveries, m.webhook, m.recorded, m.recordErrs, m.stale, m.circuit, m.throttles,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{src: src})
	m.purged = newPurgedCounter()
	m.expired = newExpiredCounter()
	m.registry.MustRegister(m.purged, m.expired)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{MaxRequestsInFlight: maxScrapesInFlight})
}

// Claimed implements scheduler.Observer.
func (m *Metrics) Claimed(n int) { m.claimed.Add(float64(n)) }

// Delivered implements scheduler.Observer.
func (m *Metrics) Delivered(out ims.Outcome) {
	r := out.Result
	outcome := "retry"
	switch out.Decision.Status {
	case ims.StatusSent:
		outcome = "sent"
	case ims.StatusDead:
		outcome = "dead"
	case ims.StatusExpired:
		outcome = "expired"
		m.expired.WithLabelValues(string(expiredReason(out.Decision))).Inc()
	}
	m.deliveries.WithLabelValues(outcome).Inc()
	m.webhook.WithLabelValues(answerClass(r)).Observe(r.Latency.Seconds())
}

// Recorded implements scheduler.Observer.
func (m *Metrics) Recorded(n int, _ time.Duration, err error) {
	if err != nil {
		m.recordErrs.Inc()
		return
	}
	if n > 0 {
		m.recorded.Observe(float64(n))
	}
}

// StaleClaim implements scheduler.Observer.
func (m *Metrics) StaleClaim() { m.stale.Inc() }

// CircuitChanged counts a change of the circuit (scheduler.ProviderObserver).
func (m *Metrics) CircuitChanged(change ims.CircuitChange) {
	m.circuit.WithLabelValues(string(change)).Inc()
}

// Throttled counts a throttle that paused the fleet.
func (m *Metrics) Throttled() { m.throttles.Inc() }

func answerClass(r ims.DeliveryResult) string {
	if r.Err != "" || r.StatusCode == 0 {
		return "error"
	}
	return strconv.Itoa(r.StatusCode/100) + "xx"
}

// stateCollector reads the cached message counts (fleet-wide, from the
// database, a few seconds old at most) and the scheduler state at scrape time.
type stateCollector struct {
	src StatusSource
}

var (
	messagesDesc  = prometheus.NewDesc("ims_messages", "Messages in the database by status, as of ims_messages_counted_at_seconds.", []string{"status"}, nil)
	countedAtDesc = prometheus.NewDesc("ims_messages_counted_at_seconds", "When ims_messages was counted (Unix time); the count is refreshed every STATS_REFRESH.", nil, nil)
	runningDesc   = prometheus.NewDesc("ims_scheduler_running", "1 when the fleet's scheduler is started.", nil, nil)
	leaderDesc    = prometheus.NewDesc("ims_scheduler_leader", "1 when this instance paces the fleet.", nil, nil)
	circuitDesc   = prometheus.NewDesc("ims_webhook_circuit_state", "The fleet's circuit breaker: 0 closed, 1 half_open, 2 open.", nil, nil)
	rateDesc      = prometheus.NewDesc("ims_webhook_effective_rate", "Webhook calls per second the fleet may start now (0 while paused, and with no WEBHOOK_RATE_LIMIT).", nil, nil)
	rateLimitDesc = prometheus.NewDesc("ims_webhook_rate_limit", "WEBHOOK_RATE_LIMIT, calls per second for the fleet (0 = none).", nil, nil)
	pausedDesc    = prometheus.NewDesc("ims_webhook_paused", "1 while a provider throttle pauses the fleet.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- messagesDesc
	ch <- countedAtDesc
	ch <- runningDesc
	ch <- leaderDesc
	ch <- circuitDesc
	ch <- rateDesc
	ch <- rateLimitDesc
	ch <- pausedDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Counts != nil {
		// Before the first count there is nothing to report (rather than
		// zeros); after a failed one the last good count stands, and
		// ims_messages_counted_at_seconds shows how old it is.
		if snap := c.src.Counts(); snap.Counts != nil {
			for _, s := range ims.Statuses {
				ch <- prometheus.MustNewConstMetric(messagesDesc, prometheus.GaugeValue, float64(snap.Counts[s]), string(s))
			}
			ch <- prometheus.MustNewConstMetric(countedAtDesc, prometheus.GaugeValue, float64(snap.RefreshedAt.UnixMilli())/1000)
		}
	}
	if c.src.Scheduler != nil {
		st := c.src.Scheduler()
		ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, boolFloat(st.Running))
		ch <- prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, boolFloat(st.IsLeader))
		ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, circuitValue(st.Circuit))
		ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, st.EffectiveRate)
		ch <- prometheus.MustNewConstMetric(rateLimitDesc, prometheus.GaugeValue, st.RateLimit)
		ch <- prometheus.MustNewConstMetric(pausedDesc, prometheus.GaugeValue, boolFloat(st.PausedUntil != nil))
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func circuitValue(s ims.CircuitState) float64 {
	switch s {
	case ims.CircuitHalfOpen:
		return 1
	case ims.CircuitOpen:
		return 2
	}
	return 0
}
