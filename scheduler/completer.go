package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/batch"
)

// completer stores delivery outcomes in batches: whatever accumulated while
// the previous batch was being written goes in the next single transaction.
// Under load that makes one round trip per hundreds of messages; when idle
// an outcome is written at once, so batching adds no latency.
type completer struct {
	store ims.DeliveryStore
	cache CacheWriter
	obs   Observer
	log   *slog.Logger
	actor string
	in    chan completion
	// maxBatch bounds one transaction.
	maxBatch int
	// retries and retryBase bound how long a database outage is waited out
	// before outcomes are given up on (their leases then expire and the
	// messages are delivered again: at-least-once, never lost).
	retries   int
	retryBase time.Duration
}

type completion struct {
	outcome *ims.Outcome
	release *ims.Claim
	done    chan error // nil when nobody waits
}

func newCompleter(store ims.DeliveryStore, cache CacheWriter, obs Observer, log *slog.Logger, actor string) *completer {
	return &completer{
		store: store, cache: cache, obs: obs, log: log, actor: actor,
		in: make(chan completion, 4096), maxBatch: 1000, retries: 6, retryBase: 100 * time.Millisecond,
	}
}

func (c *completer) submit(o ims.Outcome) { c.in <- completion{outcome: &o} }

func (c *completer) release(cl ims.Claim) { c.in <- completion{release: &cl} }

// submitWait returns once the outcome is stored (or could not be).
func (c *completer) submitWait(ctx context.Context, o ims.Outcome) error {
	return c.wait(ctx, completion{outcome: &o, done: make(chan error, 1)})
}

func (c *completer) releaseWait(ctx context.Context, cl ims.Claim) error {
	return c.wait(ctx, completion{release: &cl, done: make(chan error, 1)})
}

func (c *completer) wait(ctx context.Context, item completion) error {
	select {
	case c.in <- item:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-item.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes batches until ctx ends, then what is left, by the drain rule
// of internal/batch. Producers must have stopped before ctx ends, so that
// nothing arrives afterwards.
func (c *completer) run(ctx context.Context) {
	batch.Run(ctx, c.in, batch.Options{Max: c.maxBatch}, c.flush)
}

// flush stores one batch and answers its waiters. The error, if any, ends a
// drain: the store is down, and the leases cover what is not written.
func (c *completer) flush(items []completion) error {
	var outcomes []ims.Outcome
	var releases []ims.Claim
	for _, item := range items {
		if item.outcome != nil {
			outcomes = append(outcomes, *item.outcome)
		}
		if item.release != nil {
			releases = append(releases, *item.release)
		}
	}
	start := time.Now()
	err := c.retry("record delivery outcomes", func(ctx context.Context) error {
		if len(outcomes) == 0 {
			return nil
		}
		return c.store.RecordOutcomes(ctx, outcomes, c.actor)
	})
	c.obs.Recorded(len(outcomes), time.Since(start), err)
	if relErr := c.retry("release claims", func(ctx context.Context) error {
		if len(releases) == 0 {
			return nil
		}
		return c.store.ReleaseClaims(ctx, releases)
	}); relErr != nil {
		err = errors.Join(err, relErr)
	}
	if err == nil {
		c.cacheSent(outcomes)
	}
	for _, item := range items {
		if item.done != nil {
			item.done <- err
		}
	}
	return err
}

// retry runs op with backoff; every attempt is bounded so shutdown is too.
func (c *completer) retry(what string, op func(ctx context.Context) error) error {
	var err error
	delay := c.retryBase
	for attempt := 1; attempt <= c.retries; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = op(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if attempt < c.retries {
			c.log.Warn(what+" failed; retrying", "err", err, "attempt", attempt, "retry_in", delay.String())
			time.Sleep(delay)
			delay *= 2
		}
	}
	c.log.Error(what+" failed; the claims' leases will expire and the messages will be delivered again", "err", err)
	return err
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
