package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// A write that fails because the database is unavailable is tried again
// until the claims' lease would have run out (a restart of a few seconds
// then costs no second delivery); any other failure c.retries times. The
// waits are counted, not slept: after returns at once.
func TestCompleterWaitsOutAnUnavailableDatabaseForTheLease(t *testing.T) {
	t.Parallel()
	down := ims.Errorf(ims.EUNAVAILABLE, "the database is unavailable")
	tests := []struct {
		name      string
		err       error
		patience  time.Duration
		failures  int // failed tries before the write succeeds
		wantTries int
		wantErr   bool
	}{
		{"unavailable, back within the lease", down, 15 * time.Second, 9, 10, false},
		{"unavailable past the lease", down, 2 * time.Second, 100, 5, true},
		{"another failure: retries times", errors.New("constraint violated"), 15 * time.Second, 100, 6, true},
		{"unavailable without a lease set: retries times", down, 0, 100, 6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testCompleter(&releaseFails{}, nil)
			c.retries, c.retryBase, c.patience = 6, 100*time.Millisecond, tt.patience
			var waited time.Duration
			c.after = func(d time.Duration) <-chan time.Time {
				waited += d
				ch := make(chan time.Time, 1)
				ch <- time.Time{}
				return ch
			}
			tries := 0
			err := c.retry(context.Background(), "record outcomes", func(context.Context) error {
				tries++
				if tries <= tt.failures {
					return tt.err
				}
				return nil
			})
			require.Equal(t, tt.wantErr, err != nil, "%v", err)
			require.Equal(t, tt.wantTries, tries)
			if tt.patience > 0 {
				require.LessOrEqual(t, waited, tt.patience, "never waits past the lease")
			}
		})
	}
}

// gatedStore holds every RecordOutcomes call until the test lets it go, and
// counts the calls in flight.
type gatedStore struct {
	ims.DeliveryStore
	entered  chan int // the in-flight count, as each call starts
	gate     chan struct{}
	inflight atomic.Int32
	mu       sync.Mutex
	recorded []string
}

func (s *gatedStore) RecordOutcomes(_ context.Context, outs []ims.Outcome, _ string) error {
	s.entered <- int(s.inflight.Add(1))
	<-s.gate
	s.inflight.Add(-1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range outs {
		s.recorded = append(s.recorded, o.Claim.MessageID)
	}
	return nil
}

// Outcome commits overlap, up to flushers and never more: with one commit at
// a time, every queue consumer waited for the previous commit before its own
// could start (RabbitMQ mode's lockstep); without a bound, a burst would
// take the whole database pool.
func TestCompleterCommitsUpToFlushersAtOnce(t *testing.T) {
	t.Parallel()
	require.GreaterOrEqual(t, outcomeFlushers, 2, "production runs more than one commit at once")
	const flushers, extra = 3, 4
	store := &gatedStore{entered: make(chan int, flushers+extra), gate: make(chan struct{})}
	c := testCompleter(store, nil)
	c.flushers, c.maxBatch = flushers, 1 // one outcome per commit
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.run(ctx, context.Background()) }()

	submit := func(i int) {
		c.submit(ims.Outcome{Claim: ims.Claim{MessageID: fmt.Sprintf("m-%d", i), Attempt: 1}, Decision: ims.Decision{Status: ims.StatusSent}})
	}
	for i := range flushers {
		submit(i)
	}
	seen := 0
	for range flushers { // all of them in flight together, none finished
		seen = max(seen, next(t, store.entered, "a commit to start"))
	}
	require.Equal(t, flushers, seen)
	for i := range extra {
		submit(flushers + i)
	}
	// An idle flusher beyond the bound would take one at once. Waiting
	// cannot make this fail spuriously, only miss a broken bound.
	require.Never(t, func() bool { return len(c.in) < extra }, 50*time.Millisecond, time.Millisecond,
		"no commit starts while flushers are in flight")
	for range extra { // each one finished lets exactly one more start
		store.gate <- struct{}{}
		seen = max(seen, next(t, store.entered, "the next commit to start"))
	}
	for range flushers {
		store.gate <- struct{}{}
	}
	cancel()
	<-done
	require.Equal(t, flushers, seen, "never more commits in flight than flushers")
	require.Len(t, store.recorded, flushers+extra, "every outcome stored")
}

// Each waiter is answered by its own commit: a failed batch fails only its
// own waiters, while the commit beside it succeeds.
func TestConcurrentCommitsAnswerTheirOwnWaiters(t *testing.T) {
	t.Parallel()
	store := &failFor{fail: "m-bad"}
	c := testCompleter(store, nil)
	c.flushers, c.maxBatch, c.retries = 2, 1, 1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.run(ctx, context.Background()) }()
	defer func() { cancel(); <-done }()

	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for _, id := range []string{"m-good", "m-bad"} {
		wg.Go(func() {
			err := c.submitWait(context.Background(), ims.Outcome{Claim: ims.Claim{MessageID: id, Attempt: 1}, Decision: ims.Decision{Status: ims.StatusSent}})
			if id == "m-bad" {
				errs <- err
			} else {
				assert.NoError(t, err, "the good outcome was stored")
			}
		})
	}
	wg.Wait()
	require.Error(t, <-errs, "the outcome that was not stored is not reported stored")
}

// failFor fails every batch holding the outcome of one message.
type failFor struct {
	ims.DeliveryStore
	fail string
}

func (s *failFor) RecordOutcomes(_ context.Context, outs []ims.Outcome, _ string) error {
	for _, o := range outs {
		if o.Claim.MessageID == s.fail {
			return errors.New("database gone")
		}
	}
	return nil
}

// releaseFailsFor fails every release batch that holds the claim of id.
type releaseFailsFor struct {
	ims.DeliveryStore
	id string
}

func (s releaseFailsFor) ReleaseClaims(_ context.Context, claims []ims.Claim) error {
	for _, c := range claims {
		if c.MessageID == s.id {
			return errors.New("database gone")
		}
	}
	return nil
}

// The channel a waiting caller is answered on is recycled, but not one
// whose caller gave up: its late answer would reach the next caller handed
// that channel, as the answer to a different write.
func TestCompleterDoesNotRecycleAnAnswerGivenUpOn(t *testing.T) {
	t.Parallel()
	c := testCompleter(releaseFailsFor{id: "m-given-up"}, nil)
	c.retries = 0
	// Rounds, because under -race a sync.Pool drops some of what it is given.
	for round := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		gaveUp := make(chan error, 1)
		go func() { gaveUp <- c.releaseWait(ctx, ims.Claim{MessageID: "m-given-up", Attempt: 1}) }()
		first := <-c.in
		cancel()
		require.ErrorIs(t, <-gaveUp, context.Canceled)
		require.Error(t, c.flush(context.Background(), []completion{first}), "the late answer is a failure")

		got := make(chan error, 1)
		go func() {
			got <- c.releaseWait(context.Background(), ims.Claim{MessageID: fmt.Sprintf("m-next-%d", round), Attempt: 1})
		}()
		require.NoError(t, c.flush(context.Background(), []completion{<-c.in}))
		require.NoError(t, <-got, "round %d: the next release got its own answer", round)
	}
}
