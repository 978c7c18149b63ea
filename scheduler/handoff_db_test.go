package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestClaimAhead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start int // ahead.n before the events
		steps func(a *claimAhead)
		want  int
	}{
		{"starts at one per worker", 4, func(*claimAhead) {}, 4},
		{"a starved worker adds one", 4, func(a *claimAhead) { a.starved() }, 5},
		{"growth stops at the most per worker", 4, func(a *claimAhead) {
			for range 1000 {
				a.starved()
			}
		}, claimAheadPerWorker * 4},
		{"a long wait drops back to the least", 4, func(a *claimAhead) {
			for range 20 {
				a.starved()
			}
			a.waitedTooLong()
		}, 4},
		{"and it grows again from there", 4, func(a *claimAhead) {
			a.starved()
			a.waitedTooLong()
			a.starved()
		}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newClaimAhead(4)
			require.Equal(t, tt.start, a.n)
			tt.steps(&a)
			require.Equal(t, tt.want, a.n)
		})
	}
}

// newTestDBHandoff is database mode's handoff of a scheduler with the given
// concurrency, not started: the test plays the dispatch loop and the
// workers by calling the handoff's methods.
func newTestDBHandoff(t *testing.T, concurrency int, clock *fakeClock) *dbHandoff {
	t.Helper()
	s, err := New(Config{Instance: "test", Concurrency: concurrency, DeliveryTimeout: time.Minute},
		Deps{Store: struct{ ims.Store }{}, Webhook: nopHook{}, Clock: clock.Now, After: clock.After})
	require.NoError(t, err)
	h, ok := s.handoff.(*dbHandoff)
	require.True(t, ok, "database mode is the default")
	return h
}

func (h *dbHandoff) aheadNow() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ahead.n
}

func claimedFor(n int, leaseUntil time.Time) []ims.Message {
	msgs := make([]ims.Message, n)
	for i := range msgs {
		msgs[i] = ims.Message{ID: "m", Attempts: 1, Status: ims.StatusSending, NextAttemptAt: leaseUntil}
	}
	return msgs
}

// A worker that goes idle while a claim is in progress makes the next claim
// larger; one idle with no claim in progress (nothing due) does not.
func TestDBHandoffClaimsMoreAheadWhenWorkersWaitForAClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	h := newTestDBHandoff(t, 2, clock)
	lease := clock.Now().Add(h.s.cfg.Lease)

	require.Equal(t, 4, h.reserve(ctx, 100), "two in flight and two ahead")
	picked := make(chan ims.Message, 8)
	pick := func() {
		m, ok := h.next()
		if ok {
			picked <- m
		}
	}
	go pick() // finds nothing queued while the claim is in progress
	require.Eventually(t, func() bool { return h.aheadNow() == 3 }, 10*time.Second, time.Millisecond)
	h.handOver(ctx, ctx, claimedFor(4, lease))
	<-picked
	require.Equal(t, 1, h.reserve(ctx, 100), "one more slot ahead: 2 in flight + 3 ahead, 4 held")
	h.unreserve(1) // the claim found nothing

	// Nothing reserved now: an idle worker is not waiting for a claim.
	for range 3 {
		pick()
		<-picked
	}
	go pick()
	require.Never(t, func() bool { return h.aheadNow() != 3 }, 50*time.Millisecond, time.Millisecond)
	h.handOver(ctx, ctx, claimedFor(0, lease))
	h.reserve(ctx, 1)
	h.handOver(ctx, ctx, claimedFor(1, lease))
	<-picked
}

// A message that waited for a worker for more than half of its lease's
// margin drops the claims ahead to one per worker; one picked up with most
// of its lease left changes nothing.
func TestDBHandoffClaimsLessAheadAfterALongWait(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	h := newTestDBHandoff(t, 2, clock)
	margin := h.s.cfg.Lease - h.s.cfg.DeliveryTimeout
	for range 10 {
		h.ahead.starved()
	}
	tests := []struct {
		name      string
		leaseLeft time.Duration
		wantAhead int
	}{
		{"a fresh claim", h.s.cfg.Lease, 12},
		{"just within half the margin", h.s.cfg.DeliveryTimeout + margin/2, 12},
		{"past half the margin", h.s.cfg.DeliveryTimeout + margin/2 - time.Millisecond, 2},
	}
	for _, tt := range tests { // in order: the last one shrinks it
		t.Run(tt.name, func(t *testing.T) {
			h.checkWait(ims.Message{ID: "m", NextAttemptAt: clock.Now().Add(tt.leaseLeft)})
			require.Equal(t, tt.wantAhead, h.aheadNow())
		})
	}
}

// reserve waits for room and takes it once a delivery finishes.
func TestDBHandoffReserveWaitsForRoom(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newTestDBHandoff(t, 1, newFakeClock())
	require.Equal(t, 2, h.reserve(ctx, 100))
	got := make(chan int, 1)
	go func() { got <- h.reserve(ctx, 100) }()
	require.Never(t, func() bool { return len(got) > 0 }, 50*time.Millisecond, time.Millisecond, "no room")
	h.finished()
	require.Equal(t, 1, <-got)

	go func() { got <- h.reserve(ctx, 100) }()
	cancel()
	require.Zero(t, <-got, "an ended context reserves nothing")
}
