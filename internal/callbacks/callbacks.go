// Package callbacks delivers status callbacks from the outbox the stores
// fill (see ims.CallbackStore): every instance runs a Dispatcher, which
// leases due rows (so a fleet never sends one twice at once), POSTs each
// with its own HTTP client and its own small worker pool — callbacks never
// take a webhook worker or connection, so a slow receiver cannot slow
// message delivery — and records the outcome: delivered, a retry after the
// webhook's backoff, or given up after STATUS_CALLBACK_MAX_RETRIES with a
// callback.given_up event. Delivery is at least once: a crash between the
// receiver's 2xx and the write repeats the call with the same webhook-id.
//
// The dispatcher also keeps the outbox and the parked delivery reports
// small: it purges finished rows after Config.DoneRetention and reports
// never matched after Config.ParkTTL.
package callbacks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
)

// Config tunes the dispatcher. Zero values take the defaults.
type Config struct {
	// Retry is STATUS_CALLBACK_MAX_RETRIES with the webhook's delays.
	Retry ims.RetryPolicy
	// Workers is how many callbacks are in flight at once (default 4).
	Workers int
	// BatchSize is how many rows one claim leases (default 64).
	BatchSize int
	// Poll is the wait between claims while the outbox has nothing due
	// (default 1s): how late a callback may start.
	Poll time.Duration
	// Timeout bounds one call (default 10s); the lease outlasts it.
	Timeout time.Duration
	// ParkTTL is DLR_PARK_TTL: parked reports older than this are purged
	// (0 keeps them).
	ParkTTL time.Duration
	// DoneRetention is how long delivered and failed rows are kept (default 168h).
	DoneRetention time.Duration
	// Housekeeping is the time between purges and outbox counts (default 30s).
	Housekeeping time.Duration
	// Actor signs the callback.given_up events.
	Actor string
}

func (c *Config) withDefaults() error {
	if c.Workers < 0 || c.BatchSize < 0 || c.Poll < 0 || c.Timeout < 0 || c.ParkTTL < 0 {
		return errors.New("callbacks: negative setting")
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.BatchSize == 0 {
		c.BatchSize = 64
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.DoneRetention == 0 {
		c.DoneRetention = 168 * time.Hour
	}
	if c.Housekeeping == 0 {
		c.Housekeeping = 30 * time.Second
	}
	if c.Actor == "" {
		c.Actor = "callbacks"
	}
	return nil
}

// lease is how long a claimed row is ours: the call's timeout and the same
// margin a message's claim has (ims.LeaseFor).
func (c Config) lease() time.Duration { return ims.LeaseFor(c.Timeout) }

// Store is what the dispatcher needs of the store.
type Store interface {
	ims.CallbackStore
	PurgeParkedReports(ctx context.Context, cutoff time.Time, limit int) (int, error)
	MatchParkedReports(ctx context.Context, since time.Time, limit int) (int, error)
}

// Sender makes one callback call; nil error means a 2xx.
type Sender interface {
	Send(ctx context.Context, c ims.Callback) error
}

// Observer is told what happened, for metrics; every method must be cheap.
type Observer interface {
	CallbackDone(result string) // one of Results
	ParkedReportsPurged(n int)
}

// Deps are the dispatcher's collaborators; Store and Sender are required.
type Deps struct {
	Store    Store
	Sender   Sender
	Observer Observer // nil: none
	Logger   *slog.Logger
	// Clock, After and Jitter are injectable so tests drive time.
	Clock  ims.Clock
	After  func(d time.Duration) <-chan time.Time
	Jitter func() float64
}

// Dispatcher runs the outbox.
type Dispatcher struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu     sync.Mutex
	status Status
}

// Status is what /api/health and /metrics show of the outbox, from memory.
type Status struct {
	// Counts is the outbox by state as of the last housekeeping (nil before).
	Counts map[ims.CallbackState]int64
	// Failing counts the calls failed since the last success.
	Failing   int
	LastError string
}

// New checks cfg and deps.
func New(cfg Config, deps Deps) (*Dispatcher, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Sender == nil {
		return nil, errors.New("callbacks: Store and Sender are required")
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.After == nil {
		deps.After = time.After
	}
	if deps.Jitter == nil {
		deps.Jitter = rand.Float64
	}
	return &Dispatcher{cfg: cfg, deps: deps, log: logging.OrDiscard(deps.Logger)}, nil
}

// Status returns the last known state of the outbox.
func (d *Dispatcher) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.status
	st.Counts = make(map[ims.CallbackState]int64, len(d.status.Counts))
	for k, v := range d.status.Counts {
		st.Counts[k] = v
	}
	return st
}

// Run dispatches until ctx ends. Calls in flight then are cut short and
// left to their leases; the outcomes of those that had finished are stored.
func (d *Dispatcher) Run(ctx context.Context) {
	d.housekeep(ctx)
	nextHousekeeping := d.deps.Clock().Add(d.cfg.Housekeeping)
	for ctx.Err() == nil {
		n := d.RunOnce(ctx)
		if now := d.deps.Clock(); !now.Before(nextHousekeeping) {
			d.housekeep(ctx)
			nextHousekeeping = now.Add(d.cfg.Housekeeping)
		}
		if n == d.cfg.BatchSize {
			continue // more may be due at once
		}
		select {
		case <-ctx.Done():
		case <-d.deps.After(d.cfg.Poll):
		}
	}
}

// RunOnce claims one batch, sends it with the worker pool and records the
// outcomes; it returns how many rows it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) int {
	claimed, err := d.deps.Store.ClaimCallbacks(ctx, d.cfg.BatchSize, d.cfg.lease())
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("claim status callbacks", "err", err)
		}
		return 0
	}
	if len(claimed) == 0 {
		return 0
	}
	results := make([]ims.CallbackResult, len(claimed))
	keep := make([]bool, len(claimed))
	sem := make(chan struct{}, d.cfg.Workers)
	var wg sync.WaitGroup
	for i, c := range claimed {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = d.send(ctx, c)
			// A call cut short by shutdown says nothing about the receiver:
			// it is not recorded, and its lease brings it back.
			keep[i] = results[i].OK || ctx.Err() == nil
		}()
	}
	wg.Wait()
	var done []ims.CallbackResult
	for i, r := range results {
		if keep[i] {
			done = append(done, r)
		}
	}
	results = done
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Timeout)
	defer cancel()
	if err := d.deps.Store.CompleteCallbacks(recordCtx, results, d.cfg.Actor); err != nil {
		// The leases run out and the rows are sent again: at least once.
		d.log.Warn("record status callbacks", "err", err, "count", len(results))
		return len(claimed)
	}
	for _, r := range results {
		d.observe(r)
	}
	return len(claimed)
}

func (d *Dispatcher) send(ctx context.Context, c ims.Callback) ims.CallbackResult {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	err := d.deps.Sender.Send(ctx, c)
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	r := ims.DecideCallback(d.cfg.Retry, c, err == nil, errText, d.deps.Clock().UTC(), d.deps.Jitter())
	d.mu.Lock()
	if err == nil {
		d.status.Failing, d.status.LastError = 0, ""
	} else {
		d.status.Failing++
		d.status.LastError = errText
	}
	d.mu.Unlock()
	if err != nil {
		level := slog.LevelDebug
		if r.NextAttemptAt.IsZero() {
			level = slog.LevelWarn
		}
		d.log.Log(ctx, level, "status callback failed", "callback", c.WebhookID(), "message_id", c.MessageID,
			"url", ims.RedactURL(c.URL), "attempt", c.Attempts, "err", errText, "given_up", r.NextAttemptAt.IsZero())
	}
	return r
}

// The results an attempt is counted under (Observer.CallbackDone).
const (
	ResultDelivered = "delivered"
	ResultRetry     = "retry"
	ResultGivenUp   = "given_up"
)

// Results lists every result, for the metric's labels.
var Results = []string{ResultDelivered, ResultRetry, ResultGivenUp}

func (d *Dispatcher) observe(r ims.CallbackResult) {
	if d.deps.Observer == nil {
		return
	}
	switch {
	case r.OK:
		d.deps.Observer.CallbackDone(ResultDelivered)
	case r.NextAttemptAt.IsZero():
		d.deps.Observer.CallbackDone(ResultGivenUp)
	default:
		d.deps.Observer.CallbackDone(ResultRetry)
	}
}

// purgeBatch bounds one purge statement, and maxPurgeBatches the
// statements of one housekeeping pass: up to 20,000 rows of each kind per
// pass, short transactions each, so a flood of unknown reports is worked off
// without one long delete.
const (
	purgeBatch      = 1000
	maxPurgeBatches = 20
)

// purgeAll runs purge while it deletes full batches, up to maxPurgeBatches,
// and returns how many rows went.
func purgeAll(ctx context.Context, purge func(context.Context) (int, error)) (int, error) {
	total := 0
	for range maxPurgeBatches {
		n, err := purge(ctx)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
	return total, nil
}

// matchWindow is how far back MatchParkedReports looks: a report that raced
// its send was received about when the send was recorded.
const matchWindow = 10 * time.Minute

// housekeep applies parked reports that raced their send, purges finished
// rows and stale parked reports, and counts the outbox for health and
// metrics.
func (d *Dispatcher) housekeep(ctx context.Context) {
	now := d.deps.Clock()
	if n, err := d.deps.Store.MatchParkedReports(ctx, now.Add(-matchWindow), purgeBatch); err != nil && ctx.Err() == nil {
		d.log.Warn("match parked delivery reports", "err", err)
	} else if n > 0 {
		d.log.Info("applied delivery reports that arrived while their send was being recorded", "count", n)
	}
	if _, err := purgeAll(ctx, func(ctx context.Context) (int, error) {
		return d.deps.Store.PurgeCallbacks(ctx, now.Add(-d.cfg.DoneRetention), purgeBatch)
	}); err != nil && ctx.Err() == nil {
		d.log.Warn("purge status callbacks", "err", err)
	}
	if d.cfg.ParkTTL > 0 {
		n, err := purgeAll(ctx, func(ctx context.Context) (int, error) {
			return d.deps.Store.PurgeParkedReports(ctx, now.Add(-d.cfg.ParkTTL), purgeBatch)
		})
		if err != nil && ctx.Err() == nil {
			d.log.Warn("purge parked delivery reports", "err", err)
		}
		if n > 0 {
			d.log.Info("purged delivery reports for provider ids no message has", "count", n, "older_than", d.cfg.ParkTTL)
			if d.deps.Observer != nil {
				d.deps.Observer.ParkedReportsPurged(n)
			}
		}
	}
	counts, err := d.deps.Store.CountCallbacks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("count status callbacks", "err", err)
		}
		return
	}
	d.mu.Lock()
	d.status.Counts = counts
	d.mu.Unlock()
}

// Health is the callbacks component of /api/health: degraded while calls
// fail (naming the last error), with the outbox counts as detail.
func (st Status) Health() (detail string, degraded bool) {
	detail = fmt.Sprintf("%d pending, %d given up", st.Counts[ims.CallbackPending], st.Counts[ims.CallbackFailed])
	if st.Failing > 0 {
		return fmt.Sprintf("%d calls failed in a row, last: %s; %s", st.Failing, st.LastError, detail), true
	}
	return detail, false
}
