package rabbitmq_test

import (
	"context"
	"github.com/insiderone/ims/internal/testenv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/rabbitmq"
)

// TestReconnectAfterNetworkCut cuts the client off the broker while entries
// are in flight and checks that Publish fails during the cut, works after it,
// and that every confirmed claim is still consumed and acknowledged.
func TestReconnectAfterNetworkCut(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	p, viaProxy := testenv.ProxyURL(t, cfg.URL)
	cfg.URL = viaProxy
	cfg.Prefetch = 4
	q := newQueue(t, cfg)

	before := makeClaims("before", 40)
	publish(t, q, before)

	// Handlers hold the first entries until after the cut, so that the cut
	// happens with entries delivered but not yet acknowledged.
	gate, rec, stop := consumeHeld(t, q, cfg.Prefetch)

	p.Cut()
	require.Eventually(t, func() bool { return q.Ping(t.Context()) != nil }, waitFor, time.Millisecond, "Ping reports the cut")
	err := q.Publish(t.Context(), makeClaims("during", 3))
	require.ErrorIs(t, err, rabbitmq.ErrNotConnected, "Publish fails fast while cut off")
	close(gate) // their acks now fail; the broker must redeliver them

	p.Restore()
	require.Eventually(t, func() bool { return q.Ping(t.Context()) == nil }, waitFor, 5*time.Millisecond, "connection comes back")
	after := makeClaims("after", 40)
	publish(t, q, after)

	rec.waitDistinct(t, len(before)+len(after))
	stop()
	requireAllAcked(t, q)
	counts := rec.counts()
	for _, id := range append(ids(before), ids(after)...) {
		require.GreaterOrEqual(t, counts[id], 1, "claim %s lost", id)
	}
	require.NotContains(t, counts, "during-000", "a failed Publish is not delivered")
}

// TestPublishRecoversAfterDrop drops the connection without refusing the
// reconnection: Publish may fail on the dead connection, but never hangs, and
// succeeds again once the supervisor has reconnected.
func TestPublishRecoversAfterDrop(t *testing.T) {
	t.Parallel()
	p, q := newProxiedQueue(t)
	publish(t, q, makeClaims("a", 10))

	p.Cut()
	p.Restore()
	// An attempt may see the dead connection; the caller re-queues and
	// tries again, as the pacing leader does.
	require.Eventually(t, func() bool {
		return q.Publish(t.Context(), makeClaims("b", 10)) == nil
	}, waitFor, 5*time.Millisecond)

	rec := newRecorder()
	stop := consume(t, q, func(_ context.Context, c ims.Delivery) error {
		rec.record(c.MessageID)
		return nil
	})
	rec.waitDistinct(t, 20)
	stop()
	requireAllAcked(t, q)
}

// A handler's held context ends when the connection its entry came on is
// lost, while the handler still runs: the broker has taken the entry back,
// and hands it out again marked redelivered.
func TestHeldEndsWhenTheBrokerTakesTheEntryBack(t *testing.T) {
	t.Parallel()
	p, q := newProxiedQueue(t)
	publish(t, q, makeClaims("held", 1))

	deliveries := make(chan ims.Delivery, 10)
	heldEnded := make(chan bool, 1)
	stop := consume(t, q, func(held context.Context, d ims.Delivery) error {
		deliveries <- d
		if d.Redelivered {
			return nil
		}
		select {
		case <-held.Done():
			heldEnded <- true
			return held.Err()
		case <-time.After(waitFor):
			heldEnded <- false
			return nil
		}
	})
	first := receive(t, deliveries)
	require.False(t, first.Redelivered, "a first delivery")
	require.Equal(t, "held-000", first.MessageID)

	p.Cut()
	require.True(t, receive(t, heldEnded), "the handler's held context ends with its connection")
	p.Restore()
	again := receive(t, deliveries)
	require.Equal(t, "held-000", again.MessageID)
	require.True(t, again.Redelivered, "the entry comes back marked redelivered")
	stop()
	requireAllAcked(t, q)
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatal("nothing received")
		var zero T
		return zero
	}
}
