package scheduler

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// Issue 7 defect 6, on the answering instance: a call that passed its last
// check when a stop came is on the wire before StopFleet returns.
func TestStopWaitsForACallPastItsCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, Config{Interval: 0, BatchSize: 1, Concurrency: 1, AutoStart: true})
	entered, proceed := make(chan struct{}), make(chan struct{})
	b.hook.beforeWrite = func() { close(entered); <-proceed }
	ids := b.create(t, "+905550000001")
	b.start(t)
	wait(t, entered, "the call to pass its check")

	stopped := make(chan int64, 1)
	go func() {
		_, err := b.sched.StopFleet(ctx, "test")
		require.NoError(t, err)
		stopped <- b.hook.mark()
	}()
	// Either the stop waits at the gate (as it must) or it has answered
	// (the defect): only then does the held call go on the wire.
	select {
	case <-b.sig.gateClosing:
	case mark := <-stopped:
		stopped <- mark
	}
	close(proceed)
	mark := next(t, stopped, "StopFleet to return")
	require.Equal(t, ids, b.hook.callIDs())
	require.Empty(t, b.hook.callsAfter(mark), "the call past its check was on the wire before the stop answered")
	b.waitStatus(t, ids[0], ims.StatusSent)
}

// A call past its check that is still dialing when a stop comes is waited
// for, not aborted: a cancelled dial can race the Transport writing the
// request, and an "aborted" call that did reach the provider was released
// and delivered twice (TestE2EStopCancelStart's quick cycles). Once it
// connects, its request is on the wire before the stop answers.
func TestStopWaitsForACallStillDialing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, Config{Interval: 0, BatchSize: 1, Concurrency: 1, AutoStart: true})
	dialing, connect := make(chan struct{}), make(chan struct{})
	b.hook.beforeConn = func(context.Context) bool {
		close(dialing)
		<-connect
		return true
	}
	ids := b.create(t, "+905550000001")
	b.start(t)
	wait(t, dialing, "the call to dial")

	answered := make(chan error, 1)
	go func() { _, err := b.sched.StopFleet(ctx, "test"); answered <- err }()
	next(t, b.sig.gateClosing, "the stop to wait for the dialing call")
	select {
	case err := <-answered:
		t.Fatalf("the stop answered (%v) while a call past its check was still dialing", err)
	default:
	}
	close(connect)
	require.NoError(t, next(t, answered, "the stop to answer once the request is written"))
	require.Equal(t, ids, b.hook.callIDs(), "the call went out, before the answer")
	b.waitStatus(t, ids[0], ims.StatusSent)
	m, err := b.store.GetMessage(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, 1, m.Attempts, "delivered once, counted once")
}

// ... and a call that had not passed its last check when the stop answered
// never starts: its claim is released, uncounted.
func TestStopRefusesACallBeforeItsCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, Config{Interval: 0, BatchSize: 1, Concurrency: 1, AutoStart: true})
	atGate, proceed := make(chan struct{}), make(chan struct{})
	b.sig.beforeGate = func() { close(atGate); <-proceed }
	ids := b.create(t, "+905550000001")
	b.start(t)
	wait(t, atGate, "the delivery to reach its last check")

	_, err := b.sched.StopFleet(ctx, "test")
	require.NoError(t, err)
	close(proceed)
	require.Equal(t, 1, next(t, b.sig.released, "the refused claim's release"))
	require.Empty(t, b.hook.callIDs(), "no call starts after the stop answered")
	m, err := b.store.GetMessage(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, m.Status)
	require.Zero(t, m.Attempts)
}

// Database mode, two instances on one store: the second has claimed ahead
// of its one worker when the first stops the fleet. The stop answers only
// after the second confirmed it, and the second then starts no call.
func TestStopWaitsForAnotherInstanceThatClaimedAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	second := setup(t, Config{Instance: "second", Interval: 0, BatchSize: 10, Concurrency: 1, AutoStart: true})
	first := peer(t, second, "first")
	heartbeat(t, second, "first", "second")

	second.hook.block = make(chan struct{})
	ids := second.create(t, "+905550000001", "+905550000002", "+905550000003")
	second.start(t)
	require.GreaterOrEqual(t, next(t, second.sig.claimed, "the second to claim"), 2, "one to call, at least one ahead")
	require.Eventually(t, func() bool { return len(second.hook.callIDs()) == 1 }, 10*time.Second, time.Millisecond)

	answered := make(chan ims.SchedulerStatus, 1)
	go func() { // the clock stands still: only a confirmation can end the wait
		st, err := first.StopFleet(ctx, "test")
		require.NoError(t, err)
		answered <- st
	}()
	st := next(t, answered, "the stop to be confirmed")
	mark := second.hook.mark()
	require.NotNil(t, st.Fleet)
	require.Equal(t, []string{"first", "second"}, st.Fleet.Confirmed, "the second confirmed before the stop answered")
	require.Empty(t, st.Fleet.TimedOut)
	require.False(t, second.sched.LocalStatus().Running)

	inFlight := second.hook.callIDs()[0]
	close(second.hook.block) // the call in flight finishes; the claims ahead are released
	second.waitStatus(t, inFlight, ims.StatusSent)
	for _, id := range ids {
		if id != inFlight {
			m := second.waitStatus(t, id, ims.StatusPending)
			require.Zero(t, m.Attempts)
		}
	}
	require.Empty(t, second.hook.callsAfter(mark), "the second starts no call after the stop answered")
}

// A stop does not wait for an instance whose heartbeat is stale, and waits
// for a live one that never confirms only until confirmWait, then names it.
func TestStopWaitsOnlyForLiveInstancesAndOnlyUntilTheBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, Config{Instance: "self", Interval: 0, AutoStart: true})
	require.NoError(t, b.sched.Load(ctx))
	heartbeat(t, b, "dead")
	b.clock.Advance(ims.InstanceStaleAfter + time.Second)
	heartbeat(t, b, "self")

	st, err := b.sched.StopFleet(ctx, "test")
	require.NoError(t, err)
	require.Equal(t, []string{"self"}, st.Fleet.Confirmed)
	require.Empty(t, st.Fleet.TimedOut, "the dead instance is not waited for")

	_, err = b.sched.StartFleet(ctx, "test")
	require.NoError(t, err)
	heartbeat(t, b, "mute") // live, and never confirms
	done := make(chan ims.SchedulerStatus, 1)
	go func() {
		st, err := b.sched.StopFleet(ctx, "test")
		require.NoError(t, err)
		done <- st
	}()
	var got ims.SchedulerStatus
	b.awaitValue(t, done, &got, "the stop to give up on the mute instance")
	require.Equal(t, []string{"self"}, got.Fleet.Confirmed)
	require.Equal(t, []string{"mute"}, got.Fleet.TimedOut)
	stored, err := b.store.SchedulerState(ctx)
	require.NoError(t, err)
	require.Equal(t, stored.Version, got.Fleet.Version)
}

// An instance that cannot read the stored state cannot learn of a stop, so
// past staleAfter since its last good read it starts no call, until a read
// succeeds again.
func TestStaleStateRefusesCalls(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	b := build(t, Config{Interval: 0, BatchSize: 1, Concurrency: 1, AutoStart: true}, nil, func(s ims.Store) ims.Store {
		return &failingStateStore{Store: s, failing: &failing}
	})
	b.start(t)
	first := b.create(t, "+905550000001")
	b.waitStatus(t, first[0], ims.StatusSent)

	failing.Store(true)
	b.clock.Advance(b.sched.staleAfter() + time.Second)
	late := b.create(t, "+905550000002")
	for range 3 { // claimed again at once (still due), and refused again
		require.Equal(t, 1, next(t, b.sig.released, "the refused claim's release"))
	}
	require.Equal(t, first, b.hook.callIDs(), "no call on a state not read for too long")

	failing.Store(false)
	b.clock.Advance(time.Second)
	b.waitStatus(t, late[0], ims.StatusSent)
}

func TestConfirmationSortsTheLiveInstances(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	live, stale := now.Add(-time.Second), now.Add(-ims.InstanceStaleAfter-time.Second)
	tests := []struct {
		name      string
		list      []ims.Instance
		confirmed []string
		timedOut  []string
	}{
		{"no rows: self only", nil, []string{"self"}, []string{}},
		{"self's row counts whatever it says", []ims.Instance{{ID: "self", LastSeen: live}}, []string{"self"}, []string{}},
		{"a newer version confirms", []ims.Instance{{ID: "a", LastSeen: live, StateVersion: 8}}, []string{"a", "self"}, []string{}},
		{"an older one does not", []ims.Instance{{ID: "a", LastSeen: live, StateVersion: 6}}, []string{"self"}, []string{"a"}},
		{"stale rows are left out", []ims.Instance{{ID: "a", LastSeen: stale}}, []string{"self"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := confirmation("self", 7, tt.list, now)
			require.Equal(t, ims.FleetConfirmation{Version: 7, Confirmed: tt.confirmed, TimedOut: tt.timedOut}, got)
		})
	}
}

// failingStateStore fails SchedulerState while failing is set.
type failingStateStore struct {
	ims.Store
	failing *atomic.Bool
}

func (s *failingStateStore) SchedulerState(ctx context.Context) (ims.SchedulerState, error) {
	if s.failing.Load() {
		return ims.SchedulerState{}, errors.New("database away")
	}
	return s.Store.SchedulerState(ctx)
}

func (s *failingStateStore) Wakeups() <-chan struct{} { return s.Store.(ims.Waker).Wakeups() }

// peer builds a second engine, named instance, on b's store and clock; it is
// not run.
func peer(t *testing.T, b *bundle, instance string) *Scheduler {
	t.Helper()
	s, err := New(Config{Instance: instance, PollInterval: time.Second, LeaderTTL: 24 * time.Hour, DeliveryTimeout: time.Minute},
		Deps{Store: b.store, Webhook: newFakeWebhook(), Logger: testLogger(t), Clock: b.clock.Now, After: b.clock.After})
	require.NoError(t, err)
	return s
}

// heartbeat writes the instances rows of ids, as their fleets would.
func heartbeat(t *testing.T, b *bundle, ids ...string) {
	t.Helper()
	for _, id := range ids {
		require.NoError(t, b.store.Heartbeat(context.Background(), ims.Instance{ID: id, StartedAt: b.clock.Now(), QueueMode: ims.QueueModeDB}))
	}
}

// awaitValue is await for a value: it advances the fake clock a poll at a
// time until ch delivers.
func (b *bundle) awaitValue(t *testing.T, ch <-chan ims.SchedulerStatus, got *ims.SchedulerStatus, what string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case *got = <-ch:
			return
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
			b.clock.Advance(time.Second)
		}
	}
}

// BenchmarkOpenCall is the gate's cost per delivery: the last check, the
// trace put on the call's context, its connection and write, and the end.
func BenchmarkOpenCall(b *testing.B) {
	s := &Scheduler{now: time.Now}
	s.cfg.PollInterval, s.cfg.LeaderTTL = time.Second, 5*time.Second
	s.running.Store(true)
	s.noteStateRead(time.Now())
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			callCtx, call, ok := s.openCall(ctx)
			if !ok {
				b.Fatal("refused")
			}
			requestSent(callCtx)
			call.finish()
		}
	})
}

// A gated call releases the gate exactly once: when the Webhook says its
// request was sent (through the context openCall returned), or at finish.
// Whether a failed write counts is the webhook adapter's to decide
// (webhook.TestRequestSentHook).
func TestGatedCallReleasesTheGateOnce(t *testing.T) {
	sent := func(c *gatedCall, ctx context.Context) { requestSent(ctx) }
	finish := func(c *gatedCall, _ context.Context) { c.finish() }
	tests := []struct {
		name   string
		events []func(c *gatedCall, ctx context.Context)
		// heldAfter[i]: the gate is still held after events[i].
		heldAfter []bool
	}{
		{"sent, then finished", []func(*gatedCall, context.Context){sent, finish}, []bool{false, false}},
		{"sent twice (a replay)", []func(*gatedCall, context.Context){sent, sent, finish}, []bool{false, false, false}},
		{"never sent: finish releases", []func(*gatedCall, context.Context){finish}, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Scheduler{now: time.Now}
			s.cfg.PollInterval, s.cfg.LeaderTTL = time.Second, 5*time.Second
			s.running.Store(true)
			s.noteStateRead(time.Now())
			ctx, c, ok := s.openCall(context.Background())
			require.True(t, ok)
			g := &s.gate
			for i, ev := range tt.events {
				ev(c, ctx)
				locked := g.calls.TryLock()
				require.Equal(t, tt.heldAfter[i], !locked, "after event %d", i)
				if locked {
					g.calls.Unlock()
				}
			}
			c.finish() // once more: no second release (RUnlock would panic)
		})
	}
}
