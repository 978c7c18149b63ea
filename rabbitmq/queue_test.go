package rabbitmq_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/testenv"
	"github.com/insiderone/ims/rabbitmq"
)

func TestPublishConsumeExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, queueType := range []string{rabbitmq.QueueTypeQuorum, rabbitmq.QueueTypeClassic} {
		t.Run(queueType, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.QueueType = queueType
			q := newQueue(t, cfg)
			claims := makeClaims("m", 300)
			lease := time.Date(2030, 1, 1, 0, 0, 0, 123456000, time.UTC)
			claims[0].LeaseUntil = lease

			// Several concurrent batches: Publish must be safe to share.
			var wg sync.WaitGroup
			for i := 0; i < len(claims); i += 100 {
				wg.Go(func() { publish(t, q, claims[i:i+100]) })
			}
			wg.Wait()
			depth, err := q.Depth(t.Context())
			require.NoError(t, err)
			require.Equal(t, len(claims), depth, "claims waiting, counted from the entries that carry them")

			rec := newRecorder()
			var gotLease atomic.Value
			stop := consume(t, q, func(_ context.Context, c ims.Delivery) error {
				if c.MessageID == claims[0].MessageID {
					gotLease.Store(c.LeaseUntil)
				}
				rec.record(c.MessageID)
				return nil
			})
			rec.waitDistinct(t, len(claims))
			stop()

			requireAllAcked(t, q)
			counts := rec.counts()
			for _, id := range ids(claims) {
				require.Equal(t, 1, counts[id], "claim %s handled %d times", id, counts[id])
			}
			require.Len(t, counts, len(claims))
			require.True(t, lease.Equal(gotLease.Load().(time.Time)), "lease deadline survives the trip")
		})
	}
}

func TestHandlerErrorRequeues(t *testing.T) {
	t.Parallel()
	q := newQueue(t, testConfig(t))
	claims := makeClaims("retry", 5)
	publish(t, q, claims)

	rec := newRecorder()
	var mu sync.Mutex
	failed := map[string]bool{}
	stop := consume(t, q, func(_ context.Context, c ims.Delivery) error {
		mu.Lock()
		first := !failed[c.MessageID]
		failed[c.MessageID] = true
		mu.Unlock()
		if first {
			return errors.New("database down")
		}
		rec.record(c.MessageID)
		return nil
	})
	rec.waitDistinct(t, len(claims))
	stop()

	requireAllAcked(t, q)
	for _, id := range ids(claims) {
		require.Equal(t, 1, rec.counts()[id], "claim %s succeeds once after its failure", id)
	}
	st, err := q.Stats(t.Context())
	require.NoError(t, err)
	require.Zero(t, st.DeadLetters)
}

func TestDeliveryLimitDeadLetters(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DeliveryLimit = 2
	q := newQueue(t, cfg)
	publish(t, q, makeClaims("doomed", 1))

	var calls atomic.Int32
	stop := consume(t, q, func(context.Context, ims.Delivery) error {
		calls.Add(1)
		return errors.New("always failing")
	})
	require.Eventually(t, func() bool {
		st, err := q.Stats(t.Context())
		return err == nil && st.DeadLetters == 1
	}, waitFor, 10*time.Millisecond, "entry dead-lettered after the delivery limit")
	stop()
	// The first delivery plus DeliveryLimit redeliveries.
	require.EqualValues(t, 3, calls.Load())
	requireAllAcked(t, q)
}

func TestUnparseableEntryIsDeadLettered(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	type poison struct{ body, reason string }
	poisoned := make(chan poison, 10)
	cfg.OnPoison = func(_ context.Context, body []byte, reason string) {
		poisoned <- poison{string(body), reason}
	}
	q := newQueue(t, cfg)
	publishRaw(t, cfg.URL, q.Topology(), []byte("not json"))
	publishRaw(t, cfg.URL, q.Topology(), []byte(`{"attempt":1}`))
	publish(t, q, makeClaims("good", 1))

	rec := newRecorder()
	stop := consume(t, q, func(_ context.Context, c ims.Delivery) error {
		rec.record(c.MessageID)
		return nil
	})
	rec.waitDistinct(t, 1)
	got := map[string]string{}
	for range 2 {
		select {
		case p := <-poisoned:
			got[p.body] = p.reason
		case <-time.After(waitFor):
			t.Fatal("OnPoison not called")
		}
	}
	stop()

	require.Contains(t, got["not json"], "decode claim")
	require.Contains(t, got[`{"attempt":1}`], "message_id is missing")
	require.Equal(t, map[string]int{"good-000": 1}, rec.counts())
	require.Eventually(t, func() bool {
		st, err := q.Stats(t.Context())
		return err == nil && st.DeadLetters == 2
	}, waitFor, 10*time.Millisecond, "both entries in the dead-letter queue")
	requireAllAcked(t, q)
}

func TestConsumeBoundsHandlersInFlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		prefetch, concurrency int
		want                  int
	}{
		{"concurrency below prefetch", 6, 2, 2},
		{"concurrency defaults to prefetch", 3, 0, 3},
		{"prefetch below concurrency", 2, 5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.Prefetch, cfg.Concurrency = tt.prefetch, tt.concurrency
			q := newQueue(t, cfg)
			claims := makeClaims("bound", 20)
			publish(t, q, claims)

			var inflight, peak atomic.Int32
			release := make(chan struct{})
			rec := newRecorder()
			stop := consume(t, q, func(ctx context.Context, c ims.Delivery) error {
				n := inflight.Add(1)
				defer inflight.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				rec.record(c.MessageID)
				return nil
			})
			// Handlers block until released, so the pool fills up to its
			// bound; had it none, the peak would pass it.
			require.Eventually(t, func() bool { return inflight.Load() == int32(tt.want) }, waitFor, time.Millisecond)
			close(release)
			rec.waitDistinct(t, len(claims))
			stop()
			require.EqualValues(t, tt.want, peak.Load())
			requireAllAcked(t, q)
		})
	}
}

// Handlers run on long-lived goroutines, at most Concurrency of them: a
// goroutine per claim grew a fresh stack for every claim (docs/benchmarks.md).
func TestConsumeReusesHandlerGoroutines(t *testing.T) {
	t.Parallel()
	const concurrency, n = 3, 60
	cfg := testConfig(t)
	cfg.Prefetch, cfg.Concurrency = concurrency, concurrency
	q := newQueue(t, cfg)
	claims := makeClaims("reuse", n)
	publish(t, q, claims)

	var mu sync.Mutex
	goroutines := map[string]bool{}
	rec := newRecorder()
	stop := consume(t, q, func(_ context.Context, c ims.Delivery) error {
		mu.Lock()
		goroutines[goroutineID()] = true
		mu.Unlock()
		rec.record(c.MessageID)
		return nil
	})
	rec.waitDistinct(t, n)
	stop()
	mu.Lock()
	defer mu.Unlock()
	require.LessOrEqual(t, len(goroutines), concurrency, "%d claims handled on %d goroutines", n, len(goroutines))
	requireAllAcked(t, q)
}

// goroutineID is the calling goroutine's number, from its stack header.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	return id
}

func TestConsumeWaitsForHandlersOnShutdown(t *testing.T) {
	t.Parallel()
	q := newQueue(t, testConfig(t))
	publish(t, q, makeClaims("slow", 1))

	started := make(chan struct{})
	finish := make(chan struct{})
	var handlerCtxErr error
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- q.Consume(ctx, func(hctx context.Context, _ ims.Delivery) error {
			close(started)
			<-finish
			handlerCtxErr = hctx.Err()
			return nil
		})
	}()
	<-started
	cancel()
	select {
	case <-done:
		t.Fatal("Consume returned while a handler was running")
	default:
	}
	close(finish)
	require.NoError(t, <-done)
	require.NoError(t, handlerCtxErr, "a handler's context outlives Consume's so it can finish")
	requireAllAcked(t, q)
}

func TestClose(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	q, err := rabbitmq.New(t.Context(), cfg)
	require.NoError(t, err)
	require.NoError(t, q.Ping(t.Context()))

	consumed := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		consumed <- q.Consume(context.Background(), func(ctx context.Context, _ ims.Delivery) error {
			close(started)
			<-ctx.Done() // Close cancels the handlers' context
			return ctx.Err()
		})
	}()
	publish(t, q, makeClaims("c", 1))
	<-started

	require.NoError(t, q.Close())
	require.ErrorIs(t, <-consumed, rabbitmq.ErrClosed)
	require.ErrorIs(t, q.Ping(t.Context()), rabbitmq.ErrClosed)
	require.ErrorIs(t, q.Publish(t.Context(), makeClaims("late", 1)), rabbitmq.ErrClosed)
	require.ErrorIs(t, q.Consume(t.Context(), func(context.Context, ims.Delivery) error { return nil }), rabbitmq.ErrClosed)
	require.NoError(t, q.Close(), "Close is idempotent")
}

func TestPublishEdgeCases(t *testing.T) {
	t.Parallel()
	q := newQueue(t, testConfig(t))

	t.Run("empty batch", func(t *testing.T) {
		require.NoError(t, q.Publish(t.Context(), nil))
	})
	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.ErrorIs(t, q.Publish(ctx, makeClaims("x", 3)), context.Canceled)
	})
	t.Run("usable after a failed batch", func(t *testing.T) {
		publish(t, q, makeClaims("after", 2))
	})
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	tests := []struct {
		name   string
		mutate func(*rabbitmq.Config)
		want   string
	}{
		{"no URL", func(c *rabbitmq.Config) { c.URL = "" }, "URL is required"},
		{"bad queue type", func(c *rabbitmq.Config) { c.QueueType = "stream" }, "QueueType"},
		{"negative prefetch", func(c *rabbitmq.Config) { c.Prefetch = -1 }, "Prefetch must not be negative"},
		{"prefetch too large", func(c *rabbitmq.Config) { c.Prefetch = 70000 }, "Prefetch must be at most 65535"},
		{"negative delivery limit", func(c *rabbitmq.Config) { c.DeliveryLimit = -2 }, "DeliveryLimit must not be negative"},
		{"wrong password", func(c *rabbitmq.Config) { c.URL = "amqp://guest:wrong@127.0.0.1:5672/" }, "connect to rabbitmq"},
		{"malformed URL", func(c *rabbitmq.Config) { c.URL = "amqp://guest:s3cret@127.0.0.1:port/" }, "invalid URL"},
		{"not an AMQP URL", func(c *rabbitmq.Config) { c.URL = "http://guest:s3cret@127.0.0.1:5672/" }, "rabbitmq config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := cfg
			tt.mutate(&c)
			q, err := rabbitmq.New(t.Context(), c)
			require.Nil(t, q)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "s3cret", "the password never appears in errors")
		})
	}
}

func TestNewRejectsConflictingTopology(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.QueueType = rabbitmq.QueueTypeClassic
	newQueue(t, cfg)

	cfg.QueueType = rabbitmq.QueueTypeQuorum
	_, err := rabbitmq.New(t.Context(), cfg)
	require.ErrorContains(t, err, "declare queue")
}

// TestNewWithoutBroker starts a Queue while the broker is unreachable: New
// succeeds, the queue reports itself down and refuses to publish, and once
// the broker is reachable it connects by itself and carries claims.
func TestNewWithoutBroker(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	p, viaProxy := testenv.ProxyURL(t, cfg.URL)
	cfg.URL = viaProxy
	p.Cut()

	q := newQueue(t, cfg)
	require.ErrorIs(t, q.Ping(t.Context()), rabbitmq.ErrNotConnected)
	require.ErrorIs(t, q.Publish(t.Context(), makeClaims("early", 1)), rabbitmq.ErrNotConnected)

	p.Restore()
	require.Eventually(t, func() bool { return q.Ping(t.Context()) == nil }, waitFor, 5*time.Millisecond, "the queue connects once the broker is reachable")
	claims := makeClaims("later", 5)
	publish(t, q, claims)
	rec := newRecorder()
	stop := consume(t, q, func(_ context.Context, c ims.Delivery) error {
		rec.record(c.MessageID)
		return nil
	})
	rec.waitDistinct(t, len(claims))
	stop()
	requireAllAcked(t, q)
}

// TestCloseWithoutBroker closes a Queue that never connected: Close returns
// and the supervisor ends (goleak checks it).
func TestCloseWithoutBroker(t *testing.T) {
	t.Parallel()
	cfg := rabbitmq.Config{URL: "amqp://guest:guest@" + closedAddr(t) + "/", ReconnectMin: time.Millisecond, ReconnectMax: 10 * time.Millisecond}
	q, err := rabbitmq.New(t.Context(), cfg)
	require.NoError(t, err, "an unreachable broker is not a start-up failure")
	require.ErrorIs(t, q.Ping(t.Context()), rabbitmq.ErrNotConnected)

	consumed := make(chan error, 1)
	go func() {
		consumed <- q.Consume(context.Background(), func(context.Context, ims.Delivery) error { return nil })
	}()
	require.NoError(t, q.Close())
	require.ErrorIs(t, <-consumed, rabbitmq.ErrClosed, "Consume waiting for a connection ends on Close")
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestPublishPacksClaimsIntoEntries: the broker's cost is per entry, so a
// batch travels in entries of up to 16 claims, spread evenly.
func TestPublishPacksClaimsIntoEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		claims, entries int
	}{
		{"one claim", 1, 1},
		{"a full entry", 16, 1},
		{"one more than an entry", 17, 2},
		{"a leader's batch", 1000, 63},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := newQueue(t, testConfig(t))
			publish(t, q, makeClaims("p", tt.claims))
			st, err := q.Stats(t.Context())
			require.NoError(t, err)
			require.Equal(t, tt.entries, st.Ready, "entries in the work queue")
			depth, err := q.Depth(t.Context())
			require.NoError(t, err)
			require.Equal(t, tt.claims, depth, "claims waiting")
		})
	}
}

// TestFailedClaimRequeuesItsWholeEntry: an entry is acked only when every
// one of its claims was handled; one failure requeues it, and its other
// claims come back (the scheduler drops those as stale).
func TestFailedClaimRequeuesItsWholeEntry(t *testing.T) {
	t.Parallel()
	q := newQueue(t, testConfig(t))
	claims := makeClaims("e", 3)
	publish(t, q, claims) // one entry

	rec := newRecorder()
	var failedOnce atomic.Bool
	stop := consume(t, q, func(_ context.Context, c ims.Delivery) error {
		if c.MessageID == "e-001" && failedOnce.CompareAndSwap(false, true) {
			return errors.New("database down")
		}
		rec.record(c.MessageID)
		return nil
	})
	require.Eventually(t, func() bool {
		counts := rec.counts()
		return counts["e-000"] == 2 && counts["e-001"] == 1 && counts["e-002"] == 2
	}, waitFor, time.Millisecond, "the entry's claims handled again after the failure: %v", rec.counts)
	stop()
	requireAllAcked(t, q)
	require.Equal(t, map[string]int{"e-000": 2, "e-001": 1, "e-002": 2}, rec.counts())
}

// TestEntryIsNotAckedWhileAClaimIsStillHandled: two of an entry's three
// claims are done when the connection is cut; the third is still running,
// so the entry must not have been acked, and the broker hands all three out
// again.
func TestEntryIsNotAckedWhileAClaimIsStillHandled(t *testing.T) {
	t.Parallel()
	p, q := newProxiedQueue(t)
	publish(t, q, makeClaims("h", 3)) // one entry

	gate := make(chan struct{})
	rec := newRecorder()
	stop := consume(t, q, func(_ context.Context, c ims.Delivery) error {
		if c.MessageID == "h-000" && !c.Redelivered {
			<-gate // finishes on the lost channel, its held context ended
		}
		rec.record(c.MessageID)
		return nil
	})
	require.Eventually(t, func() bool {
		counts := rec.counts()
		return counts["h-001"] == 1 && counts["h-002"] == 1
	}, waitFor, time.Millisecond)

	p.Cut()
	require.Eventually(t, func() bool { return q.Ping(t.Context()) != nil }, waitFor, time.Millisecond, "Ping reports the cut")
	close(gate) // h-000 finishes on the lost channel: its entry's ack fails
	p.Restore()
	require.Eventually(t, func() bool {
		counts := rec.counts()
		return counts["h-000"] == 2 && counts["h-001"] == 2 && counts["h-002"] == 2
	}, waitFor, 5*time.Millisecond, "the entry was redelivered whole: %v", rec.counts)
	stop()
	requireAllAcked(t, q)
}

// TestLegacyEntriesAreConsumed: entries an instance from before the claims
// format queued (JSON, one claim each, in the legacy queue) are delivered
// and acked after an upgrade, not dead-lettered.
func TestLegacyEntriesAreConsumed(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	q := newQueue(t, cfg)
	lease := time.Date(2030, 1, 1, 0, 0, 0, 123456000, time.UTC)
	legacy := []ims.Claim{{MessageID: "old-1", Attempt: 2, LeaseUntil: lease}, {MessageID: "old-2", Attempt: 1}}
	topo := q.Topology()
	for _, c := range legacy {
		body, err := rabbitmq.EncodeClaim(c)
		require.NoError(t, err)
		// Where an older instance publishes.
		publishRawTo(t, cfg.URL, topo.Exchange, topo.LegacyRoutingKey, body)
	}
	publish(t, q, makeClaims("new", 2))

	rec := newRecorder()
	var gotLease atomic.Value
	stop := consume(t, q, func(_ context.Context, c ims.Delivery) error {
		if c.MessageID == "old-1" {
			gotLease.Store(c.LeaseUntil)
		}
		rec.record(c.MessageID)
		return nil
	})
	rec.waitDistinct(t, 4)
	stop()
	requireAllAcked(t, q)
	require.Equal(t, map[string]int{"old-1": 1, "old-2": 1, "new-000": 1, "new-001": 1}, rec.counts())
	require.True(t, lease.Equal(gotLease.Load().(time.Time)), "a legacy entry's lease deadline survives")
	st, err := q.Stats(t.Context())
	require.NoError(t, err)
	require.Zero(t, st.DeadLetters)
}

// TestPublishLeavesTheLegacyQueueToOlderInstances: an instance from before
// the claims format reads only the legacy queue, so Publish must never put
// an entry it cannot parse there (it would dead-letter it) during a rolling
// upgrade.
func TestPublishLeavesTheLegacyQueueToOlderInstances(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	q := newQueue(t, cfg)
	publish(t, q, makeClaims("n", 20))

	conn, err := amqp.Dial(cfg.URL)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	require.NoError(t, err)
	defer func() { _ = ch.Close() }()
	topo := q.Topology()
	legacy, err := ch.QueueDeclarePassive(topo.LegacyQueue, true, false, false, false, nil)
	require.NoError(t, err)
	work, err := ch.QueueDeclarePassive(topo.Queue, true, false, false, false, nil)
	require.NoError(t, err)
	require.Zero(t, legacy.Messages, "entries in the legacy queue")
	require.Equal(t, 2, work.Messages, "entries in the work queue")
}
