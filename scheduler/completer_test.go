package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// releaseFails stores outcomes and fails every release.
type releaseFails struct {
	ims.DeliveryStore
	recorded []ims.Outcome
}

func (s *releaseFails) RecordOutcomes(_ context.Context, outs []ims.Outcome, _ string) error {
	s.recorded = append(s.recorded, outs...)
	return nil
}

func (s *releaseFails) ReleaseClaims(context.Context, []ims.Claim) error {
	return errors.New("database gone")
}

type cacheSpy struct{ entries []ims.SentCacheEntry }

func (c *cacheSpy) Enqueue(e ...ims.SentCacheEntry) { c.entries = append(c.entries, e...) }

func testCompleter(store ims.DeliveryStore, cache CacheWriter) *completer {
	return &completer{
		store: store, cache: cache, obs: nopObserver{}, log: slog.New(slog.DiscardHandler), actor: "test",
		now: time.Now, after: time.After, in: make(chan completion, 10), maxBatch: 10, retries: 2, retryBase: time.Millisecond,
	}
}

func TestAFailedReleaseDoesNotFailTheOutcomesBesideIt(t *testing.T) {
	t.Parallel()
	store, cache := &releaseFails{}, &cacheSpy{}
	c := testCompleter(store, cache)
	sent := ims.Outcome{Claim: ims.Claim{MessageID: "m-1", Attempt: 1}, Decision: ims.Decision{Status: ims.StatusSent}}
	out := completion{outcome: &sent, done: make(chan error, 1)}
	rel := completion{release: &ims.Claim{MessageID: "m-2", Attempt: 1}, done: make(chan error, 1)}

	err := c.flush(context.Background(), []completion{out, rel})

	require.Error(t, err, "the flush reports the failure (it ends a drain)")
	require.NoError(t, <-out.done, "the outcome was stored")
	require.Error(t, <-rel.done, "the release was not")
	require.Len(t, store.recorded, 1)
	require.Len(t, cache.entries, 1, "a stored send is cached even though a release beside it failed")
}

// The completer's retry ends with its context (the shutdown's deadline),
// not after its full backoff.
func TestCompleterRetryEndsWithItsContext(t *testing.T) {
	t.Parallel()
	c := testCompleter(&releaseFails{}, nil)
	c.retries, c.retryBase = 100, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.retry(ctx, "release claims", func(context.Context) error { return errors.New("database gone") })
	}()
	cancel()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the retry outlived its context")
	}
}
