package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// heldStore puts a test between the engine and the store: once armed, the
// next SchedulerState (or RenewClaims or CheckClaims) call runs against the
// database and is then held until the test releases it. That is a read that started before
// a change and returns after it, on demand instead of by luck.
type heldStore struct {
	ims.Store
	mu        sync.Mutex
	state     *hold // next SchedulerState call to hold
	renew     *hold // next RenewClaims or CheckClaims call to hold
	afterRead *hold // the released state read, waiting for its caller to act on it
}

// hold is one held call. read receives once the database answered; the call
// returns after release is closed. applied (state reads only) is closed when
// the engine has acted on what the read returned: watchState applies the
// state, then renews leadership, so the next AcquireLeadership marks it.
type hold struct {
	read    chan struct{}
	release chan struct{}
	applied chan struct{}
}

func newHold() *hold {
	return &hold{read: make(chan struct{}), release: make(chan struct{}), applied: make(chan struct{})}
}

func (s *heldStore) holdState() *hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = newHold()
	return s.state
}

func (s *heldStore) holdRenew() *hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renew = newHold()
	return s.renew
}

func (s *heldStore) take(h **hold) *hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := *h
	*h = nil
	return got
}

func (h *hold) wait(ctx context.Context) {
	close(h.read)
	select {
	case <-h.release:
	case <-ctx.Done():
	}
}

func (s *heldStore) SchedulerState(ctx context.Context) (ims.SchedulerState, error) {
	st, err := s.Store.SchedulerState(ctx)
	if h := s.take(&s.state); h != nil {
		h.wait(ctx)
		s.mu.Lock()
		s.afterRead = h
		s.mu.Unlock()
	}
	return st, err
}

func (s *heldStore) AcquireLeadership(ctx context.Context, instance string, ttl time.Duration) (ims.Leadership, error) {
	if h := s.take(&s.afterRead); h != nil {
		close(h.applied)
	}
	return s.Store.AcquireLeadership(ctx, instance, ttl)
}

func (s *heldStore) RenewClaims(ctx context.Context, claims []ims.Claim, lease time.Duration) ([]ims.Message, error) {
	msgs, err := s.Store.RenewClaims(ctx, claims, lease)
	if h := s.take(&s.renew); h != nil {
		h.wait(ctx)
	}
	return msgs, err
}

func (s *heldStore) CheckClaims(ctx context.Context, claims []ims.Claim) ([]ims.Message, error) {
	msgs, err := s.Store.CheckClaims(ctx, claims)
	if h := s.take(&s.renew); h != nil {
		h.wait(ctx)
	}
	return msgs, err
}

// Wakeups keeps the store's ims.Waker, which embedding the interface hides.
func (s *heldStore) Wakeups() <-chan struct{} { return s.Store.(ims.Waker).Wakeups() }

func setupHeld(t *testing.T, cfg Config, q ims.Queue) (*bundle, *heldStore) {
	t.Helper()
	var held *heldStore
	b := build(t, cfg, q, func(s ims.Store) ims.Store {
		held = &heldStore{Store: s}
		return held
	})
	return b, held
}

// start runs the engine and returns a stop that cancels it and waits until
// Run has returned: every loop and delivery it started is over then.
func (b *bundle) start(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.sched.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return stop
}

// await waits for ch to close, advancing the fake clock a poll interval at a
// time so that whichever loop is to reach it wakes up.
func (b *bundle) await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-ch:
			return
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
			b.clock.Advance(time.Second)
		}
	}
}

// wait waits for ch to close without moving the clock.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// Defect 6: watchState read running=true, a stop committed and was applied,
// then the read returned and put the instance back to running.
func TestStaleStateReadDoesNotUndoAStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, held := setupHeld(t, Config{Interval: 0, BatchSize: 10, Concurrency: 2, AutoStart: true}, nil)
	first := b.create(t, "+905550000001")
	stop := b.start(t)
	b.waitStatus(t, first[0], ims.StatusSent)

	h := held.holdState()
	b.await(t, h.read, "watchState to read the state") // it read running=true
	_, err := b.sched.StopFleet(ctx, "test")
	require.NoError(t, err)
	stopped := b.hook.mark()
	late := b.create(t, "+905550000002") // due now, and the store signals it

	close(h.release) // the stale running=true reaches applyState
	wait(t, h.applied, "watchState to act on the stale read")
	require.False(t, b.sched.LocalStatus().Running, "a state read before the stop must not undo it")

	for range 3 { // let every loop go round a few polls, then end them all
		b.clock.Advance(time.Second)
	}
	stop()
	require.Empty(t, b.hook.callsAfter(stopped), "no webhook call starts after Stop returned")
	m, err := b.store.GetMessage(ctx, late[0])
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, m.Status)
	require.Equal(t, 0, m.Attempts)
}

// A consumer that checked the running flag, then waited for its renewal
// while a stop happened, must give the message back, not deliver it.
func TestStopDuringRenewalReleasesInsteadOfDelivering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newMemQueue()
	b, held := setupHeld(t, Config{Mode: ModeRabbitMQ, Interval: time.Hour, BatchSize: 10, AutoStart: true}, q)
	ids := b.create(t, "+905550000001")
	_, err := b.store.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)
	claimed, err := b.store.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Minute, Actor: "test"})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.NoError(t, q.Publish(ctx, []ims.Claim{claimed[0].HandOver()}))

	h := held.holdRenew()
	stop := b.start(t)
	wait(t, h.read, "the consumer to renew its claim") // it saw running=true before
	_, err = b.sched.StopFleet(ctx, "test")
	require.NoError(t, err)
	stopped := b.hook.mark()
	close(h.release)

	m := b.waitStatus(t, ids[0], ims.StatusPending)
	require.Equal(t, 0, m.Attempts, "released, not counted")
	stop()
	require.Empty(t, b.hook.callsAfter(stopped), "no webhook call starts after Stop returned")
	require.Empty(t, b.hook.callIDs())
}

// Another instance stopped the fleet and this one has not polled the state
// yet: its consumer still thinks it runs, but the store refuses the renewal,
// so the entry is released (and the stop applied here), not delivered.
func TestConsumerHonoursAStopItHasNotSeenYet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newMemQueue()
	b := build(t, Config{Mode: ModeRabbitMQ, Interval: time.Hour, BatchSize: 10, AutoStart: true}, q, nil)
	ids := b.create(t, "+905550000001")
	_, err := b.store.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)
	claimed, err := b.store.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Minute, Actor: "test"})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	stop := b.start(t)
	require.Eventually(t, func() bool { return b.sched.LocalStatus().Running }, 10*time.Second, time.Millisecond)

	_, err = b.store.SetSchedulerRunning(ctx, false, "api:other-instance") // not through b.sched
	require.NoError(t, err)
	stopped := b.hook.mark()
	require.NoError(t, q.Publish(ctx, []ims.Claim{claimed[0].HandOver()}))

	m := b.waitStatus(t, ids[0], ims.StatusPending)
	require.Equal(t, 0, m.Attempts, "released, not counted")
	require.False(t, b.sched.LocalStatus().Running, "the refused renewal taught this instance about the stop")
	stop()
	require.Empty(t, b.hook.callsAfter(stopped), "no webhook call starts after the stop committed")
}
