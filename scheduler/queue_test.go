package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// memQueue is an in-memory ims.Queue: Publish appends, Consume hands entries
// to the handler one by one and requeues the ones it fails, marked
// redelivered, as a broker does.
type memQueue struct {
	mu         sync.Mutex
	entries    chan ims.Delivery
	failNext   int // Publish calls to fail
	published  int
	handleErrs int
	// failFirst makes the handler's first try of each entry fail after it
	// returned, as if the entry's ack were lost: the entry comes back.
	failFirst bool
}

func newMemQueue() *memQueue { return &memQueue{entries: make(chan ims.Delivery, 1000)} }

func (q *memQueue) Publish(_ context.Context, claims []ims.Claim) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.failNext > 0 {
		q.failNext--
		return errors.New("broker gone")
	}
	for _, c := range claims {
		q.entries <- ims.Delivery{Claim: c}
	}
	q.published += len(claims)
	return nil
}

func (q *memQueue) Consume(ctx context.Context, handle func(context.Context, ims.Delivery) error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-q.entries:
			if err := handle(ctx, d); err != nil || (q.failFirst && !d.Redelivered) {
				q.mu.Lock()
				q.handleErrs++
				q.mu.Unlock()
				d.Redelivered = true
				q.entries <- d
			}
		}
	}
}

func (q *memQueue) Ping(context.Context) error { return nil }

func setupQueue(t *testing.T, cfg Config) (*bundle, *memQueue) {
	t.Helper()
	cfg.Mode = ModeRabbitMQ
	q := newMemQueue()
	return setupWithQueue(t, cfg, q), q
}

func TestQueueModeDeliversThroughTheQueue(t *testing.T) {
	t.Parallel()
	b, q := setupQueue(t, Config{Interval: 0, BatchSize: 10, AutoStart: true})
	ids := b.create(t, "+905550000001", "+905550000002", "+905550000003")
	b.run(t)
	for _, id := range ids {
		m := b.waitStatus(t, id, ims.StatusSent)
		require.Equal(t, 1, m.Attempts)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	require.Equal(t, 3, q.published)
	require.ElementsMatch(t, ids, b.hook.callIDs(), "each delivered once")
}

func TestQueueModeDropsDuplicateEntries(t *testing.T) {
	t.Parallel()
	b, q := setupQueue(t, Config{Interval: time.Hour, BatchSize: 10, AutoStart: true})
	ids := b.create(t, "+905550000001")
	b.run(t)
	m := b.waitStatus(t, ids[0], ims.StatusSent)

	// A redelivered copy of the entry (e.g. after a consumer's channel died)
	// must not be delivered again.
	stale := ims.Claim{MessageID: m.ID, Attempt: 1, LeaseUntil: time.Now()}
	require.NoError(t, q.Publish(context.Background(), []ims.Claim{stale}))
	require.Eventually(t, func() bool { return len(q.entries) == 0 }, 10*time.Second, 5*time.Millisecond)
	// The consumer has taken it; an extra delivery would show in the calls.
	b.create(t, "+905550000002") // flush: a later message is delivered after the stale one was handled
	b.clock.Advance(time.Hour)
	require.Eventually(t, func() bool { return len(b.hook.callIDs()) == 2 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, countOf(b.hook.callIDs(), m.ID))
}

func TestQueueModeReleasesWhatTheBrokerRefused(t *testing.T) {
	t.Parallel()
	b, q := setupQueue(t, Config{Interval: 0, BatchSize: 10, AutoStart: true})
	q.failNext = 1
	ids := b.create(t, "+905550000001")
	b.run(t)
	m := b.advanceUntil(t, ids[0], ims.StatusSent)
	require.Equal(t, 1, m.Attempts, "a claim the broker never confirmed is released, not counted")
}

// renewCounter counts the claims given to RenewClaims and CheckClaims.
type renewCounter struct {
	ims.Store
	renewals atomic.Int32
	checks   atomic.Int32
}

func (s *renewCounter) RenewClaims(ctx context.Context, claims []ims.Claim, lease time.Duration) ([]ims.Message, error) {
	s.renewals.Add(int32(len(claims)))
	return s.Store.RenewClaims(ctx, claims, lease)
}

func (s *renewCounter) CheckClaims(ctx context.Context, claims []ims.Claim) ([]ims.Message, error) {
	s.checks.Add(int32(len(claims)))
	return s.Store.CheckClaims(ctx, claims)
}

func (s *renewCounter) Wakeups() <-chan struct{} { return s.Store.(ims.Waker).Wakeups() }

func TestQueueModeStoppedConsumerReleasesEntries(t *testing.T) {
	t.Parallel()
	q := newMemQueue()
	var counter *renewCounter
	b := build(t, Config{Mode: ModeRabbitMQ, Interval: time.Hour, BatchSize: 10, AutoStart: false}, q, func(s ims.Store) ims.Store {
		counter = &renewCounter{Store: s}
		return counter
	})
	ids := b.create(t, "+905550000001")
	ctx := context.Background()
	// Claimed while running, stopped before the consumer gets the entry.
	_, err := b.store.SetSchedulerRunning(ctx, true, "test")
	require.NoError(t, err)
	claimed, err := b.store.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Minute, Actor: "test"})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	_, err = b.store.SetSchedulerRunning(ctx, false, "test")
	require.NoError(t, err)
	require.NoError(t, q.Publish(ctx, []ims.Claim{claimed[0].HandOver()}))
	b.run(t)

	require.Equal(t, 1, next(t, b.sig.released, "the entry to be given back"))
	m, err := b.store.GetMessage(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, m.Status)
	require.Equal(t, 0, m.Attempts, "the entry was given back, not delivered")
	require.Empty(t, b.hook.callIDs(), "nothing is sent while the scheduler is stopped")
	require.Zero(t, counter.renewals.Load(), "a stopped consumer gives the entry back without renewing it")
	require.Zero(t, counter.checks.Load(), "nor checking it")
}

// A consumer writes to the database before a call only when another
// consumer could hold the same entry, or when the handed-over lease is
// shorter than a renewal would make it.
func TestQueueConsumerChecksOnlyAFirstDeliveryWithLeaseToRun(t *testing.T) {
	t.Parallel()
	b := build(t, Config{Mode: ModeRabbitMQ, Interval: time.Hour, BatchSize: 10}, newMemQueue(), nil)
	h := b.sched.handoff.(*queueHandoff)
	lease := b.sched.cfg.Lease
	now := b.clock.Now()
	for _, tt := range []struct {
		name        string
		leaseUntil  time.Time
		redelivered bool
		want        bool
	}{
		{"first delivery, handed-over lease longer than a renewal's", now.Add(2 * lease), false, true},
		{"first delivery, exactly a renewal's lease left", now.Add(lease), false, true},
		{"first delivery, less lease left than a renewal gives", now.Add(lease - time.Microsecond), false, false},
		{"redelivered: another consumer may hold it", now.Add(2 * lease), true, false},
		{"no handed-over deadline to compare (an older version's entry)", time.Time{}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := ims.Delivery{Claim: ims.Claim{MessageID: "m-1", Attempt: 1, LeaseUntil: tt.leaseUntil}, Redelivered: tt.redelivered}
			require.Equal(t, tt.want, h.checkOnly(d))
		})
	}
}

// End to end on the store: an entry's first delivery is checked, not
// renewed; when the broker hands the same entry out again (its ack was
// lost), the redelivered copy is renewed, and as the message is sent it is
// stale: one call in all.
func TestQueueConsumerRenewsOnlyRedeliveredEntries(t *testing.T) {
	t.Parallel()
	q := newMemQueue()
	q.failFirst = true
	var counter *renewCounter
	b := build(t, Config{Mode: ModeRabbitMQ, Interval: 0, BatchSize: 10, AutoStart: true}, q, func(s ims.Store) ims.Store {
		counter = &renewCounter{Store: s}
		return counter
	})
	ids := b.create(t, "+905550000001")
	b.run(t)
	m := b.waitStatus(t, ids[0], ims.StatusSent)
	require.Eventually(t, func() bool { return counter.renewals.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the redelivered copy is renewed")
	require.Equal(t, int32(1), counter.checks.Load(), "the first delivery is only checked")
	require.Equal(t, 1, m.Attempts)
	require.Equal(t, []string{ids[0]}, b.hook.callIDs(), "delivered once")
}

// lostQueue hands each entry to the handler with a held context that has
// already ended: the broker took the entry back (the consumer's channel was
// lost) while the handler was on its way to the call.
type lostQueue struct {
	entries chan ims.Claim
	handled chan error
}

func (q *lostQueue) Publish(_ context.Context, claims []ims.Claim) error {
	for _, c := range claims {
		q.entries <- c
	}
	return nil
}

func (q *lostQueue) Consume(ctx context.Context, handle func(context.Context, ims.Delivery) error) error {
	lost, cancel := context.WithCancel(ctx)
	cancel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-q.entries:
			q.handled <- handle(lost, ims.Delivery{Claim: c})
		}
	}
}

func (q *lostQueue) Ping(context.Context) error { return nil }

// A consumer whose entry the broker took back makes no call — another
// consumer may be renewing the redelivered copy — and writes nothing: no
// release, and no quiet-hours deferral either (either would undo the claim
// that may be that consumer's now).
func TestQueueConsumerDoesNotCallForAnEntryTakenBack(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		quiet bool // the recipient is inside its quiet hours
	}{{"outside quiet hours", false}, {"inside quiet hours", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := &lostQueue{entries: make(chan ims.Claim, 10), handled: make(chan error, 10)}
			cfg := Config{Interval: time.Hour, BatchSize: 10, AutoStart: true}
			if tt.quiet {
				cfg = quietConfig(t)
				cfg.Interval = time.Hour
			}
			cfg.Mode = ModeRabbitMQ
			b := build(t, cfg, q, nil)
			ctx := context.Background()
			ids := b.createWith(t, ims.NewMessage{PhoneNumber: "+905551234567", Content: "hi", TimeZone: "Europe/Istanbul"})
			_, err := b.store.InitSchedulerState(ctx, true, "test")
			require.NoError(t, err)
			// Claimed and handed over as the leader would (whose own
			// quiet-hours check would keep it from the queue), with a long
			// handed-over lease: the consumer only checks it.
			claimed, err := b.store.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Hour, Actor: "test"})
			require.NoError(t, err)
			require.Len(t, claimed, 1)
			q.entries <- claimed[0].HandOver()
			b.run(t)

			require.NoError(t, next(t, q.handled, "the entry to be handled"))
			require.Empty(t, b.hook.callIDs(), "no call for an entry this consumer no longer holds")
			m, err := b.store.GetMessage(ctx, ids[0])
			require.NoError(t, err)
			require.Equal(t, ims.StatusSending, m.Status, "neither released nor deferred: the claim is left to whoever holds the entry")
			require.Equal(t, 1, m.Attempts)
			require.True(t, m.NextAttemptAt.Equal(claimed[0].NextAttemptAt), "its lease as handed over")
		})
	}
}

// staleStore answers every renewal with the message at another attempt, as
// a store without its own fencing would.
type staleStore struct {
	ims.DeliveryStore
}

func (staleStore) RenewClaims(_ context.Context, claims []ims.Claim, _ time.Duration) ([]ims.Message, error) {
	return nextAttempt(claims), nil
}

func (staleStore) CheckClaims(_ context.Context, claims []ims.Claim) ([]ims.Message, error) {
	return nextAttempt(claims), nil
}

func nextAttempt(claims []ims.Claim) []ims.Message { return sendingAt(claims, 1) }

// sendingAt is the claims' messages as the store would return them, sending
// at the claim's attempt plus ahead (0: the claims are current).
func sendingAt(claims []ims.Claim, ahead int) []ims.Message {
	msgs := make([]ims.Message, len(claims))
	for i, c := range claims {
		msgs[i] = ims.Message{ID: c.MessageID, Attempts: c.Attempt + ahead, Status: ims.StatusSending}
	}
	return msgs
}

// The renewer's fencing check: a claim is current only for the attempt it
// was taken for, whatever row comes back, for a check as for a renewal.
func TestRenewerFencesClaimsOfAnotherAttempt(t *testing.T) {
	t.Parallel()
	r := newRenewer(staleStore{}, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	defer func() { cancel(); <-done }()

	for _, checkOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkOnly=%v", checkOnly), func(t *testing.T) {
			_, current, err := r.renew(context.Background(), ims.Claim{MessageID: "m-1", Attempt: 1}, checkOnly)
			require.NoError(t, err)
			require.False(t, current, "a claim of attempt 1 is stale once the message is at attempt 2")
		})
	}
}

// currentStore answers every claim as current.
type currentStore struct {
	ims.DeliveryStore
}

func (currentStore) CheckClaims(_ context.Context, claims []ims.Claim) ([]ims.Message, error) {
	return sendingAt(claims, 0), nil
}

// The channel a renewal is answered on is recycled, but not one whose
// caller gave up waiting: its answer still comes, and would reach the next
// caller handed that channel as the answer to a different claim.
func TestRenewerDoesNotRecycleAReplyGivenUpOn(t *testing.T) {
	t.Parallel()
	r := newRenewer(currentStore{}, time.Minute) // not run: the test flushes by hand
	// Rounds, because under -race a sync.Pool drops some of what it is given.
	for round := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		gaveUp := make(chan error, 1)
		go func() {
			_, _, err := r.renew(ctx, ims.Claim{MessageID: "m-given-up", Attempt: 1}, true)
			gaveUp <- err
		}()
		first := <-r.in
		cancel()
		require.ErrorIs(t, <-gaveUp, context.Canceled)
		r.flush(context.Background(), []renewal{first}) // the late answer

		id := fmt.Sprintf("m-next-%d", round)
		got := make(chan ims.Message, 1)
		go func() {
			m, _, _ := r.renew(context.Background(), ims.Claim{MessageID: id, Attempt: 1}, true)
			got <- m
		}()
		r.flush(context.Background(), []renewal{<-r.in})
		require.Equal(t, id, (<-got).ID, "round %d: the next renewal got its own answer", round)
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// overlapStore holds every RenewClaims call until another one has started,
// so it answers only when renewals run side by side.
type overlapStore struct {
	ims.DeliveryStore
	arrived chan struct{}
}

func (s overlapStore) RenewClaims(ctx context.Context, claims []ims.Claim, _ time.Duration) ([]ims.Message, error) {
	select {
	case s.arrived <- struct{}{}: // let a call already waiting go
	case <-s.arrived: // or be let go by the next one
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return sendingAt(claims, 0), nil
}

// Renewal statements overlap: while one runs, the next batch of entries is
// renewed on another flusher instead of waiting for it (with one flusher
// the consumers' entries moved in lockstep behind each statement). Every
// request still gets its own answer, and run returns only after all
// flushers have drained.
func TestRenewerFlushesConcurrently(t *testing.T) {
	t.Parallel()
	r := newRenewer(overlapStore{arrived: make(chan struct{})}, time.Minute)
	r.maxBatch = 1 // one claim per statement, so two claims are two statements
	require.GreaterOrEqual(t, r.flushers, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	defer func() { cancel(); <-done }()

	var wg sync.WaitGroup
	results := make([]bool, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, current, err := r.renew(context.Background(), ims.Claim{MessageID: fmt.Sprintf("m-%d", i), Attempt: 1}, false)
			assert.NoError(t, err)
			results[i] = current
		}()
	}
	wg.Wait()
	require.Equal(t, []bool{true, true}, results)
}

// ackQueue is an ims.Queue that hands each entry to the handler once and
// reports what the handler returned (nil is an ack), with the message as
// stored at that moment.
type ackQueue struct {
	entries chan ims.Claim
	settled chan settlement
	store   ims.Store
}

type settlement struct {
	err    error
	stored ims.Message
}

func (q *ackQueue) Publish(_ context.Context, claims []ims.Claim) error {
	for _, c := range claims {
		q.entries <- c
	}
	return nil
}

func (q *ackQueue) Consume(ctx context.Context, handle func(context.Context, ims.Delivery) error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-q.entries:
			err := handle(ctx, ims.Delivery{Claim: c})
			m, _ := q.store.GetMessage(context.Background(), c.MessageID)
			q.settled <- settlement{err: err, stored: m}
		}
	}
}

func (q *ackQueue) Ping(context.Context) error { return nil }

// outcomesFail is a store that cannot write outcomes.
type outcomesFail struct{ ims.Store }

func (outcomesFail) RecordOutcomes(context.Context, []ims.Outcome, string) error {
	return errors.New("database gone")
}

func (s outcomesFail) Wakeups() <-chan struct{} { return s.Store.(ims.Waker).Wakeups() }

// A queue entry is acked only once its outcome is durable: with several
// commits in flight, a consumer still waits for the one holding its own
// outcome, and a failed commit means no ack (the broker keeps the entry,
// and the lease covers the message).
func TestQueueEntryIsAckedOnlyAfterItsOutcomeIsStored(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		broken bool
	}{{"stored outcome", false}, {"store failing", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := &ackQueue{entries: make(chan ims.Claim, 10), settled: make(chan settlement, 10)}
			b := build(t, Config{Mode: ModeRabbitMQ, Interval: 0, BatchSize: 10, AutoStart: true}, q, func(s ims.Store) ims.Store {
				q.store = s
				if tt.broken {
					return outcomesFail{s}
				}
				return s
			})
			b.sched.complete.retries = 1 // no backoff on the fake clock
			ids := b.create(t, "+905550000001")
			b.run(t)

			got := next(t, q.settled, "the entry to be settled")
			require.Equal(t, []string{ids[0]}, b.hook.callIDs(), "the webhook was called")
			if tt.broken {
				require.Error(t, got.err, "not acked: the outcome was not stored")
				require.Equal(t, ims.StatusSending, got.stored.Status)
				return
			}
			require.NoError(t, got.err)
			require.Equal(t, ims.StatusSent, got.stored.Status, "acked after the outcome was stored, not before")
		})
	}
}

// heldQueue holds every Publish until the test lets it go (or its context
// ends, as a publish that cannot be confirmed), and never delivers.
type heldQueue struct {
	started chan int // the size of each batch, as its publish starts
	gate    chan struct{}
}

func (q *heldQueue) Publish(ctx context.Context, claims []ims.Claim) error {
	q.started <- len(claims)
	select {
	case <-q.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *heldQueue) Consume(ctx context.Context, _ func(context.Context, ims.Delivery) error) error {
	<-ctx.Done()
	return nil
}

func (q *heldQueue) Ping(context.Context) error { return nil }

// The leader claims the next batch while the broker confirms the last one,
// and no further: one batch waits behind the publish in progress.
func TestLeaderClaimsWhileTheLastBatchIsConfirmed(t *testing.T) {
	t.Parallel()
	q := &heldQueue{started: make(chan int, 10), gate: make(chan struct{})}
	b := setupWithQueue(t, Config{Mode: ModeRabbitMQ, Interval: 0, BatchSize: 1, AutoStart: true}, q)
	b.create(t, "+905550000001", "+905550000002", "+905550000003", "+905550000004")
	b.run(t)

	require.Equal(t, 1, next(t, q.started, "the first publish"))
	for range 2 { // the batch being published, and the one waiting for it
		require.Equal(t, 1, next(t, b.sig.claimed, "a claim"))
	}
	require.Never(t, func() bool { return len(b.sig.claimed) > 0 }, 50*time.Millisecond, time.Millisecond,
		"the leader waits once a batch waits for the publisher")
	q.gate <- struct{}{}
	require.Equal(t, 1, next(t, q.started, "the next publish"))
	require.Equal(t, 1, next(t, b.sig.claimed, "the claim after it"))
}

// Claims the publisher has not got through when the shutdown comes are
// released (their publish cannot be confirmed any more), not left to their
// handover lease.
func TestShutdownReleasesClaimsNotYetPublished(t *testing.T) {
	t.Parallel()
	q := &heldQueue{started: make(chan int, 10), gate: make(chan struct{})}
	b := setupWithQueue(t, Config{Mode: ModeRabbitMQ, Interval: 0, BatchSize: 1, AutoStart: true}, q)
	b.create(t, "+905550000001", "+905550000002", "+905550000003")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.sched.Run(ctx) }()
	next(t, q.started, "the first publish")
	for range 2 {
		next(t, b.sig.claimed, "a claim")
	}
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, int64(3), b.count(t, ims.StatusPending), "every claim given back")
	require.Zero(t, b.count(t, ims.StatusSending))
}

// Only where deliveries wait for their commit does the completer run more
// than one at once.
func TestCommitsInFlightFollowTheMode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode string
		want int
	}{{ModeDB, 1}, {ModeRabbitMQ, outcomeFlushers}} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			b := build(t, Config{Mode: tt.mode, Interval: 0, BatchSize: 10}, newMemQueue(), nil)
			require.Equal(t, tt.want, b.sched.complete.flushers)
		})
	}
}
