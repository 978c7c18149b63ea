package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what a run measured. Its JSON form is the `-json` output.
type Result struct {
	Mode        string  `json:"mode"` // drain, steady or paced
	DB          string  `json:"db"`
	Queue       string  `json:"queue"`
	Create      string  `json:"create"`
	N           int     `json:"n"`
	Clients     int     `json:"clients"`
	BatchSize   int     `json:"batch_size"`
	Concurrency int     `json:"concurrency"`
	Interval    string  `json:"interval"`
	Rate        float64 `json:"rate,omitempty"`
	FailureRate float64 `json:"failure_rate,omitempty"`
	CPUs        int     `json:"cpus"`
	// LoadAvg is the machine's 1-minute load average when the run began:
	// on a shared machine, the first thing to check about a surprising figure.
	LoadAvg float64 `json:"load_avg"`

	Created       int64   `json:"created"`
	CreateErrors  int64   `json:"create_errors"`
	CreateSeconds float64 `json:"create_seconds"`
	CreatedPerSec float64 `json:"created_per_sec"`

	Delivered       int64   `json:"delivered"`
	DeliverSeconds  float64 `json:"deliver_seconds"`
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	// DecileRates is delivered/s within each tenth of the deliveries, in
	// order: in drain mode the first decile ran with the whole backlog
	// pending and the last with almost none, so they show whether the
	// backlog itself slows delivery.
	DecileRates     []float64 `json:"decile_rates,omitempty"`
	Lost            int64     `json:"lost"`
	Duplicates      int64     `json:"duplicates"`
	Unknown         int64     `json:"unknown"` // accepted keys this run never created
	WebhookRequests int64     `json:"webhook_requests"`
	FailuresInject  int64     `json:"failures_injected"`

	// LatencyMS is from a create request's answer to the sink's first
	// acceptance of that message, in milliseconds.
	LatencyMS Latency `json:"latency_ms"`

	IMSPeakRSS   int64 `json:"ims_peak_rss_bytes"`
	BenchPeakRSS int64 `json:"bench_peak_rss_bytes"`

	Raw        *RawResult `json:"raw,omitempty"`
	RatioToRaw float64    `json:"ratio_to_raw,omitempty"`
	Pacing     *Pacing    `json:"pacing,omitempty"`
	TimedOut   bool       `json:"timed_out"`
	// Interrupted runs (Ctrl-C) report what was missing as Undelivered.
	Interrupted bool   `json:"interrupted,omitempty"`
	Undelivered int64  `json:"undelivered,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func latencyOf(sorted []int64) Latency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Latency{P50: ms(percentile(sorted, 50)), P95: ms(percentile(sorted, 95)),
		P99: ms(percentile(sorted, 99)), Max: ms(percentile(sorted, 100))}
}

func newResult(cfg Config) *Result {
	return &Result{Mode: cfg.Mode(), DB: cfg.DB, Queue: cfg.Queue, Create: cfg.Create, N: cfg.N,
		Clients: cfg.Clients, BatchSize: cfg.BatchSize, Concurrency: cfg.Concurrency,
		Interval: cfg.Interval.String(), Rate: cfg.Rate, FailureRate: cfg.FailureRate, CPUs: runtime.NumCPU(),
		LoadAvg: loadAvg()}
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// WriteTable writes r as a table for people.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("mode", "%s, %s, queue %s, create %s (%d clients)", r.Mode, dbName(r.DB), r.Queue, r.Create, r.Clients)
	row("machine", "%d CPUs, load average %.2f at start", r.CPUs, r.LoadAvg)
	row("scheduler", "batch %d, concurrency %d, interval %s%s", r.BatchSize, r.Concurrency, r.Interval, rateNote(r))
	row("created", "%d of %d in %.2fs: %s/s%s", r.Created, r.N, r.CreateSeconds, thousands(r.CreatedPerSec), errNote(r.CreateErrors))
	row("delivered", "%d in %.2fs: %s/s%s", r.Delivered, r.DeliverSeconds, thousands(r.DeliveredPerSec), ratioNote(r))
	if len(r.DecileRates) > 0 {
		parts := make([]string, len(r.DecileRates))
		for i, v := range r.DecileRates {
			parts[i] = thousands(v)
		}
		row("by decile", "%s /s (first tenth of deliveries … last)", strings.Join(parts, " "))
	}
	if r.Raw != nil {
		row("raw ceiling", "%d in %.2fs: %s/s (webhook client straight to the sink, %d workers)",
			r.Raw.Delivered, r.Raw.Seconds, thousands(r.Raw.DeliveredPerSec), r.Concurrency)
	}
	l := r.LatencyMS
	row("latency", "p50 %.1fms  p95 %.1fms  p99 %.1fms  max %.1fms (create answered → webhook received)", l.P50, l.P95, l.P99, l.Max)
	row("lost", "%d", r.Lost)
	row("duplicates", "%d (2xx beyond the first per Idempotency-Key)", r.Duplicates)
	row("webhook requests", "%d (%d failures injected, %d unknown keys)", r.WebhookRequests, r.FailuresInject, r.Unknown)
	row("peak RSS", "IMS %s, bench %s", mib(r.IMSPeakRSS), mib(r.BenchPeakRSS))
	if p := r.Pacing; p != nil {
		row("pacing", "%d batches, sizes %v, max drift %.1fms, exact %t", p.Batches, p.Sizes, p.MaxDriftMS, p.Exact)
	}
	if r.TimedOut {
		row("TIMED OUT", "the run hit its timeout before every message was delivered")
	}
	if r.Interrupted {
		row("INTERRUPTED", "%d messages not delivered yet when the run was cut short", r.Undelivered)
	}
	if r.Error != "" {
		row("error", "%s", r.Error)
	}
	return tw.Flush()
}

func dbName(db string) string {
	if db == DBPostgres {
		return "PostgreSQL"
	}
	return "SQLite"
}

func rateNote(r *Result) string {
	if r.Rate > 0 {
		return fmt.Sprintf("; %s msg/s offered", thousands(r.Rate))
	}
	return ""
}

func errNote(n int64) string {
	if n > 0 {
		return fmt.Sprintf(" (%d FAILED)", n)
	}
	return ""
}

func ratioNote(r *Result) string {
	if r.Raw == nil {
		return ""
	}
	return fmt.Sprintf(" = %.2f × raw", r.RatioToRaw)
}

func mib(b int64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// thousands formats a rate as an integer with thin separators: 12,345.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Pacing checks the paced mode: deliveries should arrive in batches of
// BatchSize, one batch per Interval, on a grid that does not drift.
type Pacing struct {
	Batches int   `json:"batches"`
	Sizes   []int `json:"sizes"`
	// OffsetsMS are each batch's first delivery after the first batch's.
	OffsetsMS []float64 `json:"offsets_ms"`
	// MaxDriftMS is the largest |offset - k × interval|.
	MaxDriftMS float64 `json:"max_drift_ms"`
	// Exact is true when every batch but the last held exactly BatchSize.
	Exact bool `json:"exact"`
}

// pacing groups sorted receipt times (ns) into batches: a gap longer than
// half an interval starts a new one.
func pacing(receipts []int64, interval time.Duration, batchSize int) *Pacing {
	if len(receipts) == 0 || interval <= 0 {
		return nil
	}
	p := &Pacing{Exact: true}
	var starts []int64
	for i, at := range receipts {
		if i == 0 || time.Duration(at-receipts[i-1]) > interval/2 {
			starts = append(starts, at)
			p.Sizes = append(p.Sizes, 0)
		}
		p.Sizes[len(p.Sizes)-1]++
	}
	p.Batches = len(starts)
	for k, s := range starts {
		off := time.Duration(s - starts[0])
		p.OffsetsMS = append(p.OffsetsMS, float64(off.Microseconds())/1000)
		drift := (off - time.Duration(k)*interval).Abs()
		p.MaxDriftMS = max(p.MaxDriftMS, float64(drift.Microseconds())/1000)
		if k < len(starts)-1 && p.Sizes[k] != batchSize {
			p.Exact = false
		}
	}
	if last := p.Sizes[len(p.Sizes)-1]; last > batchSize {
		p.Exact = false
	}
	return p
}

// loadAvg reads the 1-minute load average; 0 where /proc does not exist.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return 0
	}
	return v
}

// decileRates splits sorted first-acceptance times into ten equal counts
// and gives each tenth's rate; nil when there are too few to be meaningful.
func decileRates(receipts []int64) []float64 {
	const parts, minPerPart = 10, 100
	if len(receipts) < parts*minPerPart {
		return nil
	}
	out := make([]float64, parts)
	for k := range parts {
		from, to := k*len(receipts)/parts, (k+1)*len(receipts)/parts-1
		out[k] = rate(int64(to-from), time.Duration(receipts[to]-receipts[from]).Seconds())
	}
	return out
}
