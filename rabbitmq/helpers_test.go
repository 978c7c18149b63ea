package rabbitmq_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// waitFor bounds every wait on the broker; it is a deadlock guard, not a
// timing assertion.
const waitFor = 30 * time.Second

// testConfig returns a config with a unique prefix on the test broker and
// removes the prefix's exchanges and queues when the test ends.
func testConfig(t *testing.T) rabbitmq.Config {
	t.Helper()
	url := testenv.RabbitMQURL(t)
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	cfg := rabbitmq.Config{
		URL:          url,
		Prefix:       "ims-test-" + hex.EncodeToString(b),
		ReconnectMin: 10 * time.Millisecond,
		ReconnectMax: 200 * time.Millisecond,
		RetryPause:   10 * time.Millisecond,
	}
	t.Cleanup(func() { deleteTopology(t, url, cfg.Prefix) })
	return cfg
}

// newQueue opens a Queue and closes it when the test ends (before the
// topology is deleted, since cleanups run last-in first-out).
// newProxiedQueue opens a queue with the test configuration that reaches
// the broker through a TCP proxy the test can cut and restore.
func newProxiedQueue(t *testing.T) (*testenv.Proxy, *rabbitmq.Queue) {
	t.Helper()
	cfg := testConfig(t)
	p, viaProxy := testenv.ProxyURL(t, cfg.URL)
	cfg.URL = viaProxy
	return p, newQueue(t, cfg)
}

func newQueue(t *testing.T, cfg rabbitmq.Config) *rabbitmq.Queue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	q, err := rabbitmq.New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	return q
}

func deleteTopology(t *testing.T, url, prefix string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("delete test topology %s: %v", prefix, err)
		return
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	require.NoError(t, err)
	defer func() { _ = ch.Close() }()
	topo := rabbitmq.TopologyFor(prefix)
	for _, name := range topo.Queues() {
		_, err := ch.QueueDelete(name, false, false, false)
		require.NoError(t, err, "delete queue %s", name)
	}
	for _, name := range topo.Exchanges() {
		require.NoError(t, ch.ExchangeDelete(name, false, false), "delete exchange %s", name)
	}
}

// publishRaw puts a body on the work exchange bypassing Queue.Publish, as a
// buggy or foreign publisher would.
func publishRaw(t *testing.T, url string, topo rabbitmq.Topology, body []byte) {
	t.Helper()
	publishRawTo(t, url, topo.Exchange, topo.RoutingKey, body)
}

// publishRawTo publishes body with routing key to exchange.
func publishRawTo(t *testing.T, url, exchange, key string, body []byte) {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false,
		amqp.Publishing{DeliveryMode: amqp.Persistent, Body: body})
	require.NoError(t, err)
	acked, err := dc.WaitContext(ctx)
	require.NoError(t, err)
	require.True(t, acked)
}

func makeClaims(prefix string, n int) []ims.Claim {
	claims := make([]ims.Claim, n)
	for i := range claims {
		claims[i] = ims.Claim{MessageID: fmt.Sprintf("%s-%03d", prefix, i), Attempt: 1}
	}
	return claims
}

func publish(t *testing.T, q *rabbitmq.Queue, claims []ims.Claim) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, q.Publish(ctx, claims))
}

// consume runs q.Consume in the background; the returned stop function
// cancels it and requires that it returned nil.
func consume(t *testing.T, q *rabbitmq.Queue, handle func(context.Context, ims.Delivery) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Consume(ctx, handle) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err, "Consume")
			case <-time.After(waitFor):
				t.Fatal("Consume did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// recorder counts how often each message id was handled successfully.
type recorder struct {
	mu     sync.Mutex
	seen   map[string]int
	order  []string
	change chan struct{} // receives a value after every record
}

func newRecorder() *recorder {
	return &recorder{seen: map[string]int{}, change: make(chan struct{}, 1)}
}

func (r *recorder) record(id string) {
	r.mu.Lock()
	r.seen[id]++
	r.order = append(r.order, id)
	r.mu.Unlock()
	select {
	case r.change <- struct{}{}:
	default:
	}
}

func (r *recorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.seen))
	for k, v := range r.seen {
		out[k] = v
	}
	return out
}

// waitDistinct waits until n distinct ids were recorded.
func (r *recorder) waitDistinct(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		if len(r.counts()) >= n {
			return
		}
		select {
		case <-r.change:
		case <-timeout:
			t.Fatalf("recorded %d distinct claims, want %d", len(r.counts()), n)
		}
	}
}

// requireAllAcked waits until the work queue has no consumer left (so that
// anything unacknowledged has been returned to it) and then requires it to be
// empty.
func requireAllAcked(t *testing.T, q *rabbitmq.Queue) {
	t.Helper()
	ctx := context.Background()
	var st rabbitmq.Stats
	require.Eventually(t, func() bool {
		var err error
		st, err = q.Stats(ctx)
		return err == nil && st.Consumers == 0
	}, waitFor, 10*time.Millisecond, "consumers still subscribed")
	require.Zero(t, st.Ready, "entries left unacknowledged in the work queue")
}

func ids(claims []ims.Claim) []string {
	out := make([]string, len(claims))
	for i, c := range claims {
		out[i] = c.MessageID
	}
	return out
}

// consumeHeld consumes q with handlers that hold every entry until gate is
// closed, and returns once held entries fill the prefetch window, so a test
// can break the connection while entries are delivered but not yet acked.
func consumeHeld(t *testing.T, q *rabbitmq.Queue, prefetch int) (gate chan struct{}, rec *recorder, stop func()) {
	t.Helper()
	gate = make(chan struct{})
	var inflight atomic.Int32
	rec = newRecorder()
	stop = consume(t, q, func(ctx context.Context, c ims.Delivery) error {
		inflight.Add(1)
		defer inflight.Add(-1)
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		rec.record(c.MessageID)
		return nil
	})
	require.Eventually(t, func() bool { return inflight.Load() == int32(prefetch) }, waitFor, time.Millisecond)
	return gate, rec, stop
}
