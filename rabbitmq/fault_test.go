package rabbitmq_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBrokerRestart stops and starts the real local broker's application:
// Publish fails while it is stopped, Consume resumes by itself, and nothing
// that was confirmed before the stop is lost (quorum queues are durable).
// It disturbs every client of the broker, so it only runs on request.
func TestFaultBrokerRestart(t *testing.T) {
	if os.Getenv("IMS_FAULT_TESTS") == "" {
		t.Skip("set IMS_FAULT_TESTS=1 to stop and restart the local RabbitMQ with rabbitmqctl")
	}
	cfg := testConfig(t)
	cfg.Prefetch = 2
	q := newQueue(t, cfg)
	before := makeClaims("before", 20)
	publish(t, q, before)

	gate, rec, stop := consumeHeld(t, q, cfg.Prefetch)

	// Registered before the stop so that the broker comes back even when
	// the test fails half-way.
	t.Cleanup(func() { rabbitmqctl(t, "start_app") })
	rabbitmqctl(t, "stop_app")
	require.Eventually(t, func() bool { return q.Ping(t.Context()) != nil }, waitFor, 5*time.Millisecond)
	require.Error(t, q.Publish(t.Context(), makeClaims("during", 2)), "Publish fails while the broker is down")
	close(gate)

	rabbitmqctl(t, "start_app")
	require.Eventually(t, func() bool { return q.Ping(t.Context()) == nil }, 2*waitFor, 10*time.Millisecond, "reconnects after the restart")
	after := makeClaims("after", 20)
	require.Eventually(t, func() bool {
		// The queue may still be electing its leader right after start_app.
		return q.Publish(t.Context(), after) == nil
	}, waitFor, 50*time.Millisecond)

	rec.waitDistinct(t, len(before)+len(after))
	stop()
	requireAllAcked(t, q)
	counts := rec.counts()
	for _, id := range append(ids(before), ids(after)...) {
		require.GreaterOrEqual(t, counts[id], 1, "claim %s lost across the restart", id)
	}
}

func rabbitmqctl(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", args...).CombinedOutput()
	require.NoError(t, err, "rabbitmqctl %v: %s", args, out)
}
