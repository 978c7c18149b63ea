package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestPacedDispatchHonoursBatchSizeAndOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: time.Minute, BatchSize: 2, Concurrency: 4, AutoStart: true})
	ids := b.create(t, "+905550000001", "+905550000002", "+905550000003", "+905550000004", "+905550000005")
	b.run(t)

	// First batch at start: the two oldest.
	b.waitStatus(t, ids[0], ims.StatusSent)
	b.waitStatus(t, ids[1], ims.StatusSent)
	require.Equal(t, int64(3), b.count(t, ims.StatusPending), "only one batch before the interval passes")

	b.clock.Advance(time.Minute)
	b.waitStatus(t, ids[2], ims.StatusSent)
	b.waitStatus(t, ids[3], ims.StatusSent)
	require.Equal(t, int64(1), b.count(t, ims.StatusPending))

	b.clock.Advance(time.Minute)
	b.waitStatus(t, ids[4], ims.StatusSent)
	calls := b.hook.callIDs()
	require.Len(t, calls, 5, "each message delivered once")
	// A batch is delivered concurrently, so order is only kept between batches.
	require.ElementsMatch(t, ids[:2], calls[:2])
	require.ElementsMatch(t, ids[2:4], calls[2:4])
	require.Equal(t, ids[4], calls[4])

	m, err := b.store.GetMessage(context.Background(), ids[0])
	require.NoError(t, err)
	require.Equal(t, "prov-"+ids[0], m.ProviderMessageID)
}

func TestStoppedSchedulerSendsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: time.Minute, BatchSize: 10, AutoStart: false})
	ids := b.create(t, "+905550000001", "+905550000002")
	b.run(t)

	// The loop goes round at start and once per interval; stopped, it never
	// dispatches (the database would refuse the claim too, but a stopped
	// loop must not even ask, nor spend its pace).
	require.False(t, next(t, b.sig.tick, "the first tick"), "a stopped scheduler dispatches nothing")
	for range 3 {
		b.clock.Advance(time.Minute)
		require.False(t, next(t, b.sig.tick, "the tick of an interval"), "a stopped scheduler dispatches nothing")
	}
	st, err := b.sched.Status(context.Background())
	require.NoError(t, err)
	require.False(t, st.Running)
	require.Empty(t, b.hook.callIDs())
	require.Empty(t, b.sig.claimed)
	require.Equal(t, int64(2), b.count(t, ims.StatusPending))

	_, err = b.sched.StartFleet(context.Background(), "test")
	require.NoError(t, err)
	// Started, it dispatches at once, without the clock moving.
	for !next(t, b.sig.tick, "a tick that dispatches after the start") {
	}
	require.Equal(t, 2, next(t, b.sig.claimed, "the claim"))
	b.waitStatus(t, ids[0], ims.StatusSent)
	b.waitStatus(t, ids[1], ims.StatusSent)
}

func TestQuickStopStartCyclesDoNotBreakThePace(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: time.Minute, BatchSize: 1, AutoStart: true})
	ids := b.create(t, "+905550000001", "+905550000002", "+905550000003")
	b.run(t)
	for !next(t, b.sig.tick, "the first batch's tick") {
	}
	require.Equal(t, 1, next(t, b.sig.claimed, "the first batch"))
	b.waitStatus(t, ids[0], ims.StatusSent)

	ctx := context.Background()
	for range 20 {
		_, err := b.sched.StopFleet(ctx, "test")
		require.NoError(t, err)
		_, err = b.sched.StartFleet(ctx, "test")
		require.NoError(t, err)
	}
	st, err := b.sched.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Running)
	// Every change wakes the loop; at least one of its rounds starts after
	// the last start, and then it waits for the clock. None may dispatch.
	for _, dispatched := range ticksUntilQuiet(t, b) {
		require.False(t, dispatched, "restarting within an interval must not dispatch early")
	}
	require.Empty(t, b.sig.claimed, "restarting within an interval must not dispatch early")
	require.Equal(t, int64(2), b.count(t, ims.StatusPending))

	b.clock.Advance(time.Minute)
	b.waitStatus(t, ids[1], ims.StatusSent)
}

// ticksUntilQuiet collects the dispatch loop's ticks until none comes for a
// while: the loop has gone round for every wake-up and waits for the clock.
func ticksUntilQuiet(t *testing.T, b *bundle) []bool {
	t.Helper()
	var ticks []bool
	for {
		select {
		case d := <-b.sig.tick:
			ticks = append(ticks, d)
		case <-time.After(100 * time.Millisecond):
			return ticks
		}
	}
}

func TestRetriesThenDeadLetter(t *testing.T) {
	t.Parallel()
	// Retry policy of setup: 2 retries, base 1s, no jitter: delays 0.5s, 1s.
	tests := []struct {
		name       string
		answer     ims.DeliveryResult
		wantDelays []time.Duration // minimum gap before each retry
	}{
		// Only failures about the message spend the budget: 5xx, network
		// errors, 401/403 and throttles are the provider's (see
		// TestProviderFailuresAreHeldNeverDead).
		{"request timeout is retried MaxRetries times", ims.DeliveryResult{StatusCode: 408}, []time.Duration{500 * time.Millisecond, time.Second}},
		{"too early is retried", ims.DeliveryResult{StatusCode: 425}, []time.Duration{500 * time.Millisecond, time.Second}},
		{"permanent 4xx is dead at once", ims.DeliveryResult{StatusCode: 400}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{Interval: 0, BatchSize: 10, AutoStart: true})
			b.hook.answer("+905550000009", tt.answer)
			ids := b.create(t, "+905550000009", "+905550000001")
			b.run(t)
			b.waitStatus(t, ids[1], ims.StatusSent) // a failing message never blocks the others

			m := b.advanceUntil(t, ids[0], ims.StatusDead)
			require.Equal(t, len(tt.wantDelays)+1, m.Attempts)
			require.NotEmpty(t, m.LastError)

			attempts, err := b.store.ListAttempts(context.Background(), ids[0])
			require.NoError(t, err)
			require.Len(t, attempts, len(tt.wantDelays)+1, "every attempt is stored")
			for i, want := range tt.wantDelays {
				gap := attempts[i+1].CreatedAt.Sub(attempts[i].CreatedAt)
				require.GreaterOrEqualf(t, gap, want, "retry %d came too early", i+1)
			}
			calls := 0
			for _, id := range b.hook.callIDs() {
				if id == ids[0] {
					calls++
				}
			}
			require.Equal(t, len(tt.wantDelays)+1, calls, "same message (same Idempotency-Key) on every attempt")
		})
	}
}

// advanceUntil moves the fake clock forward a poll interval at a time until
// the message reaches want, so the dispatch loop wakes wherever it waits.
// The clock moves only while nothing is in flight (jumping past a live lease
// would make the next claim overtake the delivery in progress), and each
// step waits for the loop to go round or for an outcome to be stored.
func (b *bundle) advanceUntil(t *testing.T, id string, want ims.Status) ims.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := b.store.GetMessage(context.Background(), id)
		require.NoError(t, err)
		if m.Status == want {
			return m
		}
		require.Truef(t, time.Now().Before(deadline), "message %s never became %s: %+v", id, want, &m)
		if m.Status == ims.StatusSending {
			select {
			case <-b.sig.recorded:
			case <-b.sig.released:
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		b.clock.Advance(time.Second)
		select {
		case <-b.sig.tick:
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestShutdownFinishesInFlightDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 10, AutoStart: true, ShutdownTimeout: time.Minute})
	b.hook.block = make(chan struct{})
	ids := b.create(t, "+905550000001")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.sched.Run(ctx) }()
	require.Eventually(t, func() bool { return len(b.hook.callIDs()) == 1 }, 10*time.Second, 5*time.Millisecond)

	cancel()
	close(b.hook.block) // the in-flight call answers after shutdown began
	require.NoError(t, <-done)
	m, err := b.store.GetMessage(context.Background(), ids[0])
	require.NoError(t, err)
	require.Equal(t, ims.StatusSent, m.Status, "the outcome of an in-flight delivery is recorded on shutdown")
}

func TestShutdownTimeoutReleasesStuckDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 10, AutoStart: true, ShutdownTimeout: 10 * time.Millisecond})
	b.hook.block = make(chan struct{}) // never answers
	ids := b.create(t, "+905550000001")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.sched.Run(ctx) }()
	require.Eventually(t, func() bool { return len(b.hook.callIDs()) == 1 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	next(t, b.sig.draining, "the shutdown to arm its deadline")
	b.clock.Advance(10 * time.Millisecond)
	require.NoError(t, <-done)

	m, err := b.store.GetMessage(context.Background(), ids[0])
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, m.Status, "a cancelled delivery is released, not lost")
	require.Equal(t, 0, m.Attempts, "a released claim does not count as an attempt")
}

func TestStatusReportsLeadership(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: time.Minute, BatchSize: 2, AutoStart: true})
	b.run(t)
	require.Eventually(t, func() bool { return b.sched.LocalStatus().IsLeader }, 10*time.Second, 5*time.Millisecond)
	st, err := b.sched.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, "test-1", st.Leader)
	require.Equal(t, ModeDB, st.QueueMode)
	require.Equal(t, 2, st.BatchSize)
}

func TestConcurrencyBoundsCallsAndClaimsAhead(t *testing.T) {
	t.Parallel()
	const concurrency, messages = 2, 30
	b := setup(t, Config{Interval: 0, BatchSize: 100, Concurrency: concurrency, AutoStart: true, ShutdownTimeout: time.Minute})
	b.hook.block = make(chan struct{})
	phones := make([]string, messages)
	for i := range phones {
		phones[i] = fmt.Sprintf("+9055500%05d", i)
	}
	ids := b.create(t, phones...)
	b.run(t)

	// Two calls in flight, at least one claimed ahead per worker, the rest
	// left pending: the claims ahead may grow (claimAhead), never past
	// claimAheadPerWorker per worker.
	require.Eventually(t, func() bool {
		return len(b.hook.callIDs()) == concurrency && b.count(t, ims.StatusSending) >= 2*concurrency
	}, 10*time.Second, 5*time.Millisecond)
	require.Len(t, b.hook.callIDs(), concurrency, "never more webhook calls than Concurrency")
	sending := b.count(t, ims.StatusSending)
	require.LessOrEqual(t, sending, int64((1+claimAheadPerWorker)*concurrency), "claims ahead are bounded")
	require.Equal(t, int64(messages)-sending, b.count(t, ims.StatusPending))

	close(b.hook.block)
	for _, id := range ids {
		b.advanceUntil(t, id, ims.StatusSent)
	}
	require.Len(t, b.hook.callIDs(), messages)
}

func TestStopReleasesClaimedAheadMessages(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 100, Concurrency: 1, AutoStart: true, ShutdownTimeout: time.Minute})
	b.hook.block = make(chan struct{})
	ids := b.create(t, "+905550000001", "+905550000002")
	b.run(t)
	// One call in flight, one message claimed ahead, waiting for the worker.
	require.Eventually(t, func() bool {
		return len(b.hook.callIDs()) == 1 && b.count(t, ims.StatusSending) == 2
	}, 10*time.Second, 5*time.Millisecond)

	_, err := b.sched.StopFleet(context.Background(), "test")
	require.NoError(t, err)
	close(b.hook.block) // the call in flight finishes; nothing new may start

	inFlight := b.hook.callIDs()[0]
	b.waitStatus(t, inFlight, ims.StatusSent)
	waiting := ids[0]
	if waiting == inFlight {
		waiting = ids[1]
	}
	m := b.waitStatus(t, waiting, ims.StatusPending)
	require.Equal(t, 0, m.Attempts, "released, not counted")
	require.Len(t, b.hook.callIDs(), 1, "nothing starts after a stop")
}

// The lease check: a message claimed ahead that waited for a worker until
// less than DeliveryTimeout of its lease was left is released, not sent: the
// call could outlive the lease, and another instance could then claim it.
func TestClaimedAheadMessageWithTooLittleLeaseLeftIsReleased(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: time.Hour, BatchSize: 2, Concurrency: 1, AutoStart: true, ShutdownTimeout: time.Minute})
	b.hook.block = make(chan struct{})
	ids := b.create(t, "+905550000001", "+905550000002")
	b.run(t)
	require.Equal(t, 2, next(t, b.sig.claimed, "the batch"))
	require.Eventually(t, func() bool { return len(b.hook.callIDs()) == 1 }, 10*time.Second, time.Millisecond)

	// Lease = DeliveryTimeout (1m, from setup) + 15s: after 20s less than
	// DeliveryTimeout is left. Well within the hour, so nothing is claimed.
	b.clock.Advance(20 * time.Second)
	close(b.hook.block)
	require.Equal(t, 1, next(t, b.sig.recorded, "the outcome of the call in flight"))
	require.Equal(t, 1, next(t, b.sig.released, "the release of the message claimed ahead"))

	require.Len(t, b.hook.callIDs(), 1, "no call with too little lease left")
	waiting := ids[0]
	if waiting == b.hook.callIDs()[0] {
		waiting = ids[1]
	}
	m, err := b.store.GetMessage(context.Background(), waiting)
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, m.Status)
	require.Equal(t, 0, m.Attempts, "released, not counted")
}

// The drain rule for claims handed to the workers and not yet started: a
// shutdown finishes the call in flight and gives the rest back, uncounted,
// instead of starting their calls during the drain.
func TestShutdownReleasesClaimsNoWorkerHasStarted(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 100, Concurrency: 1, AutoStart: true, ShutdownTimeout: time.Minute})
	b.hook.block = make(chan struct{})
	ids := b.create(t, "+905550000001", "+905550000002")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.sched.Run(ctx) }()
	// One call in flight, one message claimed ahead, waiting for the worker.
	require.Eventually(t, func() bool {
		return len(b.hook.callIDs()) == 1 && b.count(t, ims.StatusSending) == 2
	}, 10*time.Second, 5*time.Millisecond)

	cancel()
	next(t, b.sig.draining, "the shutdown to begin")
	close(b.hook.block)
	require.NoError(t, <-done)

	inFlight := b.hook.callIDs()[0]
	waiting := ids[0]
	if waiting == inFlight {
		waiting = ids[1]
	}
	sent, err := b.store.GetMessage(context.Background(), inFlight)
	require.NoError(t, err)
	require.Equal(t, ims.StatusSent, sent.Status, "the call in flight is finished and recorded")
	m, err := b.store.GetMessage(context.Background(), waiting)
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, m.Status, "the claim no worker had started is given back")
	require.Equal(t, 0, m.Attempts, "released, not counted")
	require.Len(t, b.hook.callIDs(), 1, "no call starts during the drain")
}
