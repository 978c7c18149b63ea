package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/batch"
)

// completer stores delivery outcomes in batches: whatever accumulated while
// the batches in flight were being written goes in the next single
// transaction. Under load that makes one round trip per hundreds of
// messages; when idle an outcome is written at once, so batching adds no
// latency.
//
// Up to flushers batches are written at once (the handoff's
// commitsInFlight). With one, every queue consumer waiting for its outcome
// (RabbitMQ mode acks only once it is stored) waited for the whole previous
// commit and then for its own: the prefetch window moved in lockstep with
// the commits. Concurrent batches are
// safe because each write is fenced by the claim's attempt number (an
// outcome or release of a claim that is no longer current changes nothing),
// and one message's writes are never in two batches at once: its next write
// needs a new claim, which needs this one's write committed first. Each
// waiter is answered by its own batch, after that batch's commit.
type completer struct {
	store ims.DeliveryStore
	cache CacheWriter
	obs   Observer
	log   *slog.Logger
	actor string
	now   ims.Clock
	after func(time.Duration) <-chan time.Time
	sig   *testSignals
	in    chan completion
	// maxBatch bounds one transaction; flushers how many run at once.
	maxBatch int
	flushers int
	// retries and retryBase bound how often a failed write is tried again
	// before outcomes are given up on (their leases then expire and the
	// messages are delivered again: at-least-once, never lost). A write that
	// failed because the database is unavailable is tried again for as long
	// as patience instead (see mayRetry). The end of run's write context, at
	// the shutdown's deadline, gives up at once.
	retries   int
	retryBase time.Duration
	patience  time.Duration
	// dones recycles the channels a waiting caller is answered on (wait).
	dones sync.Pool
}

// maxRetryDelay caps the wait between two tries of a write, so that a write
// waiting out an outage is stored within that much of the database's return.
const maxRetryDelay = 2 * time.Second

type completion struct {
	outcome  *ims.Outcome
	release  *ims.Claim
	deferral *ims.DeferredClaim // quiet hours (quiethours.go)
	done     chan error         // nil when nobody waits
}

func newCompleter(s *Scheduler, cache CacheWriter) *completer {
	return &completer{
		store: s.store, cache: cache, obs: s.obs, log: s.log, actor: s.actor(), now: s.now, after: s.after, sig: s.sig,
		in: make(chan completion, 4096), maxBatch: 1000, flushers: 1,
		retries: 6, retryBase: 100 * time.Millisecond, patience: s.cfg.Lease,
	}
}

// outcomeFlushers is how many outcome transactions one instance has in
// flight at most in RabbitMQ mode (see completer): while one commits, the
// next batch of waiting consumers is written. More would take the database
// pool (pgx's default is 4 connections on 2 cores) from the leader's claims
// and the renewals. Measured in docs/benchmarks.md.
const outcomeFlushers = 2

func (c *completer) submit(o ims.Outcome) { c.in <- completion{outcome: &o} }

func (c *completer) release(cl ims.Claim) { c.in <- completion{release: &cl} }

// submitWait returns once the outcome is stored (or could not be).
func (c *completer) submitWait(ctx context.Context, o ims.Outcome) error {
	return c.wait(ctx, completion{outcome: &o})
}

func (c *completer) releaseWait(ctx context.Context, cl ims.Claim) error {
	return c.wait(ctx, completion{release: &cl})
}

// wait hands item over and waits for it to be written. The channel it is
// answered on is recycled once the answer is in (a channel per call was a
// visible share of RabbitMQ mode's allocations); one given up on, whose
// answer may still come, is left to the garbage collector.
func (c *completer) wait(ctx context.Context, item completion) error {
	done, _ := c.dones.Get().(chan error)
	if done == nil {
		done = make(chan error, 1)
	}
	item.done = done
	select {
	case c.in <- item:
	case <-ctx.Done():
		c.dones.Put(done)
		return ctx.Err()
	}
	select {
	case err := <-done:
		c.dones.Put(done)
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes batches, up to flushers at once, until ctx ends, then what is
// left, by the drain rule of internal/batch (each flusher drains, and stops
// at its first failed batch). Producers must have stopped before ctx ends,
// so that nothing arrives afterwards. Writes (and their retries) run on
// writeCtx: once it ends, what is not written is left to lease expiry. run
// returns once every flusher has.
func (c *completer) run(ctx, writeCtx context.Context) {
	var wg sync.WaitGroup
	for range max(c.flushers, 1) {
		wg.Go(func() {
			batch.Run(ctx, c.in, batch.Options{Max: c.maxBatch}, func(items []completion) error {
				return c.flush(writeCtx, items)
			})
		})
	}
	wg.Wait()
}

// flush stores one batch and answers its waiters, each with the error of
// its own kind of write: a failed release does not fail the outcomes stored
// beside it, nor the other way round. An error ends a drain: the store is
// down, and the leases cover what is not written.
func (c *completer) flush(ctx context.Context, items []completion) error {
	// Almost every item of a batch is an outcome: room for all of them up
	// front instead of growing the slice of outcomes several times a batch.
	outcomes := make([]ims.Outcome, 0, len(items))
	var releases []ims.Claim
	var deferrals []ims.DeferredClaim
	for _, item := range items {
		if item.outcome != nil {
			outcomes = append(outcomes, *item.outcome)
		}
		if item.release != nil {
			releases = append(releases, *item.release)
		}
		if item.deferral != nil {
			deferrals = append(deferrals, *item.deferral)
		}
	}
	defErr := c.flushDeferrals(ctx, deferrals)
	var outErr, relErr error
	if len(outcomes) > 0 {
		start := c.now()
		outErr = c.retry(ctx, "record delivery outcomes", func(ctx context.Context) error {
			return c.store.RecordOutcomes(ctx, outcomes, c.actor)
		})
		c.obs.Recorded(len(outcomes), c.now().Sub(start), outErr)
		if outErr == nil {
			c.cacheSent(outcomes)
			c.sig.recordedN(len(outcomes))
		}
	}
	if len(releases) > 0 {
		relErr = c.retry(ctx, "release claims", func(ctx context.Context) error {
			return c.store.ReleaseClaims(ctx, releases)
		})
		if relErr == nil {
			c.sig.releasedN(len(releases))
		}
	}
	for _, item := range items {
		if item.done == nil {
			continue
		}
		switch {
		case item.outcome != nil:
			item.done <- outErr
		case item.deferral != nil:
			item.done <- defErr
		default:
			item.done <- relErr
		}
	}
	return errors.Join(outErr, relErr, defErr)
}

// retry runs op with backoff until it succeeds, mayRetry says no more, or
// ctx ends; every attempt is bounded too.
func (c *completer) retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	var err error
	delay, waited := c.retryBase, time.Duration(0)
	for attempt := 1; ; attempt++ {
		opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = op(opCtx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !c.mayRetry(err, attempt, waited+delay) {
			break
		}
		c.log.Warn(what+" failed; retrying", "err", err, "attempt", attempt, "retry_in", delay.String())
		select {
		case <-c.after(delay):
		case <-ctx.Done():
		}
		waited += delay
		delay = min(2*delay, maxRetryDelay)
	}
	c.log.Error(what+" failed; the claims' leases will expire and the messages will be delivered again", "err", err)
	return err
}

// mayRetry tells whether a write that failed with err on its attempt-th try
// is tried again after waiting waited in all. While the database is
// unavailable (a restart, a failover) it is, until the claims' lease would
// have run out: the deliveries were made, and every outcome stored before
// then spares a message its second delivery (PostgreSQL restarting for 4 s
// cost 11 of them with a fixed 3 s of tries). Past the lease the messages
// are due again anyway. Any other failure is tried c.retries times.
func (c *completer) mayRetry(err error, attempt int, waited time.Duration) bool {
	if c.patience > 0 && ims.ErrorCode(err) == ims.EUNAVAILABLE {
		return waited <= c.patience
	}
	return attempt < c.retries
}

func (c *completer) cacheSent(outcomes []ims.Outcome) {
	if c.cache == nil {
		return
	}
	entries := make([]ims.SentCacheEntry, 0, len(outcomes))
	for _, o := range outcomes {
		if o.Decision.Status == ims.StatusSent {
			entries = append(entries, ims.SentCacheEntry{
				MessageID: o.Claim.MessageID, ProviderMessageID: o.Result.ProviderMessageID, SentAt: o.At,
			})
		}
	}
	if len(entries) > 0 {
		c.cache.Enqueue(entries...)
	}
}
