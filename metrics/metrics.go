// Package metrics exposes IMS's Prometheus metrics: delivery counters and
// latencies fed by the scheduler (it implements scheduler.Observer), and
// message counts by status read from the store when scraped.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/insiderone/ims"
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
}

// StatusSource reports what the gauges show at scrape time.
type StatusSource struct {
	Counts    func(ctx context.Context) (map[ims.Status]int64, error)
	Scheduler func() ims.SchedulerStatus
}

// New registers every IMS metric plus the Go and process collectors.
func New(src StatusSource, logger *slog.Logger) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		claimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ims_messages_claimed_total", Help: "Messages claimed for delivery (each attempt counts).",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ims_deliveries_total", Help: "Webhook deliveries by outcome: sent, retry (pending again) or dead.",
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
	}
	m.registry.MustRegister(m.claimed, m.deliveries, m.webhook, m.recorded, m.recordErrs, m.stale,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{src: src, log: logger})
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Claimed implements scheduler.Observer.
func (m *Metrics) Claimed(n int) { m.claimed.Add(float64(n)) }

// Delivered implements scheduler.Observer.
func (m *Metrics) Delivered(r ims.DeliveryResult, d ims.Decision) {
	outcome := "retry"
	switch d.Status {
	case ims.StatusSent:
		outcome = "sent"
	case ims.StatusDead:
		outcome = "dead"
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

func answerClass(r ims.DeliveryResult) string {
	if r.Err != "" || r.StatusCode == 0 {
		return "error"
	}
	return strconv.Itoa(r.StatusCode/100) + "xx"
}

// stateCollector reads message counts and scheduler state at scrape time, so
// the figures are fleet-wide truths from the database, not local counters.
type stateCollector struct {
	src StatusSource
	log *slog.Logger
}

var (
	messagesDesc = prometheus.NewDesc("ims_messages", "Messages in the database by status.", []string{"status"}, nil)
	runningDesc  = prometheus.NewDesc("ims_scheduler_running", "1 when the fleet's scheduler is started.", nil, nil)
	leaderDesc   = prometheus.NewDesc("ims_scheduler_leader", "1 when this instance paces the fleet.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- messagesDesc
	ch <- runningDesc
	ch <- leaderDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Counts != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		counts, err := c.src.Counts(ctx)
		cancel()
		if err != nil {
			c.log.Warn("metrics: count messages", "err", err)
		}
		for _, s := range ims.Statuses {
			if err == nil {
				ch <- prometheus.MustNewConstMetric(messagesDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
			}
		}
	}
	if c.src.Scheduler != nil {
		st := c.src.Scheduler()
		ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, boolFloat(st.Running))
		ch <- prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, boolFloat(st.IsLeader))
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
