package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/insiderone/ims/internal/sink"
)

// stallTimeout ends a run in which nothing arrives for this long although
// messages are outstanding (a retry waits at most a second in a run).
const stallTimeout = 60 * time.Second

// ErrStalled is returned (wrapped) when delivery stopped making progress.
var ErrStalled = errors.New("delivery stalled")

// ErrTimeout is returned (wrapped) when the run hit Config.Timeout before
// every message was delivered.
var ErrTimeout = errors.New("benchmark timed out")

// Run performs one benchmark and returns what it measured. The result is
// filled in as far as the run got even when an error is returned (lost
// messages, a timeout, failed creates), so it can always be reported.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	res := newResult(cfg)
	if cfg.Raw {
		raw, err := runRaw(ctx, cfg)
		if err != nil {
			return res, err
		}
		res.Raw = raw
	}
	dir, err := os.MkdirTemp("", "ims-bench-")
	if err != nil {
		return res, fmt.Errorf("bench: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	r := &run{cfg: cfg, res: res, dir: dir, tr: newTracker(cfg.N)}
	err = r.execute(ctx)
	r.finish()
	if res.Lost > 0 && (err == nil || errors.Is(err, ErrStalled) || errors.Is(err, ErrTimeout)) {
		err = errors.Join(err, fmt.Errorf("%w: %d of %d created messages never reached the webhook", ErrLost, res.Lost, res.Created))
	}
	if err == nil && res.CreateErrors > 0 {
		err = fmt.Errorf("bench: %d messages could not be created: %s", res.CreateErrors, res.Error)
	}
	return res, err
}

// run is the state of one IMS measurement.
type run struct {
	cfg   Config
	res   *Result
	dir   string
	tr    *tracker
	sink  *sink.Sink
	phase atomic.Pointer[string]

	t0        time.Time // when delivery started (or, in steady mode, loading)
	load      loadResult
	imsPeak   int64
	sinkStats sink.Stats
}

func (r *run) setPhase(p string) { r.phase.Store(&p) }

func (r *run) phaseName() string {
	if p := r.phase.Load(); p != nil {
		return *p
	}
	return ""
}

// execute starts the sink, the database and IMS, loads the messages, and
// waits for them to be delivered. Everything it starts is stopped before it
// returns, IMS gracefully, so that a late duplicate still reaches the sink
// before it is counted.
func (r *run) execute(ctx context.Context) error {
	r.setPhase("starting")
	bar := startProgress(r.cfg.Progress, r.cfg.ProgressLines, r.cfg.N, r.tr, r.phaseName)
	defer bar.close()

	r.sink = sink.New(sink.Config{FailureRate: r.cfg.FailureRate, AuthKey: benchWebhookKey, Seed: 1,
		OnDelivery: r.tr.onDelivery})
	srv, err := startSink(ctx, r.sink)
	if err != nil {
		return err
	}
	defer func() { srv.stop(); r.sinkStats = r.sink.Stats() }()

	prepared, err := prepare(ctx, r.cfg, r.dir)
	if err != nil {
		return fmt.Errorf("bench: prepare: %w", err)
	}
	defer func() {
		if err := prepared.close(); err != nil && r.cfg.Logs != nil {
			fmt.Fprintln(r.cfg.Logs, "bench: cleanup:", err)
		}
	}()
	steady := r.cfg.Rate > 0
	proc, err := startIMS(ctx, r.cfg.Binary, r.dir, func(port int) []string {
		return serveEnv(r.cfg, prepared.env, srv.url, port, steady)
	})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer r.copyLog(proc)
	err = r.measure(ctx, proc)
	r.imsPeak = proc.peakRSS() // before it exits: VmHWM is gone with the process
	if stopErr := proc.stop(); err == nil && stopErr != nil {
		err = fmt.Errorf("bench: %w", stopErr)
	}
	return err
}

func (r *run) measure(ctx context.Context, proc *imsProcess) error {
	api, closeAPI, err := newAPIClient(proc.base, r.cfg.Clients)
	if err != nil {
		return err
	}
	defer closeAPI()
	l := &loader{cfg: r.cfg, api: api, tr: r.tr}
	if r.cfg.Rate > 0 {
		// The scheduler auto-started: delivery runs while messages arrive.
		r.t0 = time.Now()
		r.setPhase("steady")
		r.load = l.run(ctx)
	} else {
		r.setPhase("loading")
		r.load = l.run(ctx)
		r.setPhase("starting")
		r.t0 = time.Now()
		// Through the API, as an operator does: the state is the fleet's and
		// kept in the database.
		if _, err := api.Start(ctx); err != nil {
			return fmt.Errorf("bench: start the scheduler: %w", err)
		}
	}
	r.setPhase("draining")
	return r.waitDelivered(ctx, proc)
}

// waitDelivered returns once every created message was accepted by the
// sink, delivery stalls, IMS exits, or ctx ends. A message still missing
// then is reported lost: a stall long past every retry delay and interval
// is what a loss looks like from outside.
func (r *run) waitDelivered(ctx context.Context, proc *imsProcess) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	stallAfter := max(stallTimeout, 3*r.cfg.Interval)
	last, lastAt := int64(-1), time.Now()
	for {
		delivered := r.tr.delivered.Load()
		if delivered >= r.tr.created.Load() {
			return nil
		}
		if delivered != last {
			last, lastAt = delivered, time.Now()
		} else if time.Since(lastAt) > stallAfter {
			return fmt.Errorf("%w: nothing delivered for %s, %d of %d delivered", ErrStalled, stallAfter, delivered, r.tr.created.Load())
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				r.res.TimedOut = true
				return fmt.Errorf("%w after %s: %d of %d delivered", ErrTimeout, r.cfg.Timeout, r.tr.delivered.Load(), r.tr.created.Load())
			}
			r.res.Interrupted = true
			return fmt.Errorf("bench: interrupted: %w", ctx.Err())
		case <-proc.exited:
			return fmt.Errorf("bench: IMS exited during the run: %v\nIMS log:\n%s", proc.waitErr, proc.logTail(20))
		case <-t.C:
		}
	}
}

// copyLog hands IMS's log to Config.Logs: warnings and errors only (the
// process runs at LOG_LEVEL=warn), so a quiet run shows nothing.
func (r *run) copyLog(proc *imsProcess) {
	if r.cfg.Logs == nil {
		return
	}
	if b, err := os.ReadFile(proc.logPath); err == nil && len(b) > 0 {
		fmt.Fprintf(r.cfg.Logs, "IMS log (%s):\n%s", r.cfg.Mode(), b)
	}
}

// finish fills the result from the tracker and the sink.
func (r *run) finish() {
	res, o := r.res, r.tr.reckon()
	res.Created = r.tr.created.Load()
	res.CreateErrors = r.load.failed
	if r.load.firstErr != nil {
		res.Error = r.load.firstErr.Error()
	}
	if !r.load.start.IsZero() {
		res.CreateSeconds = r.load.end.Sub(r.load.start).Seconds()
		res.CreatedPerSec = rate(res.Created, res.CreateSeconds)
	}
	res.Delivered = r.tr.delivered.Load()
	if last := r.tr.lastRecv.Load(); last > 0 && !r.t0.IsZero() {
		res.DeliverSeconds = time.Duration(last - r.tr.since(r.t0)).Seconds()
		res.DeliveredPerSec = rate(res.Delivered, res.DeliverSeconds)
	}
	res.Lost, res.Unknown = o.lost, o.unknown
	if res.Interrupted {
		// Cut short by the user: what is missing may still be on its way,
		// so it is reported as not yet delivered, never as lost.
		res.Undelivered, res.Lost = o.lost, 0
	}
	res.Duplicates = r.sinkStats.Duplicates
	res.WebhookRequests = r.sinkStats.Received
	res.FailuresInject = r.sinkStats.FailuresInjected
	res.LatencyMS = latencyOf(o.latencies)
	res.IMSPeakRSS, res.BenchPeakRSS = r.imsPeak, peakRSS("self")
	if res.Raw != nil && res.Raw.DeliveredPerSec > 0 {
		res.RatioToRaw = res.DeliveredPerSec / res.Raw.DeliveredPerSec
	}
	res.DecileRates = decileRates(o.receipts)
	res.Pacing = pacing(o.receipts, r.cfg.Interval, r.cfg.BatchSize)
}

func rate(n int64, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(n) / seconds
}
