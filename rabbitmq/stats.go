package rabbitmq

import (
	"context"
	"fmt"
)

// Stats is a snapshot of the queues, for the health check and metrics.
type Stats struct {
	// Ready is the number of entries waiting in the work queue (each carries
	// up to maxClaimsPerEntry claims; see Depth for claims). AMQP reports
	// ready entries only: those delivered and not yet acknowledged are not
	// counted (the management API would be needed for that).
	Ready int
	// Consumers is the number of consumers subscribed to the work queue,
	// across all instances.
	Consumers int
	// DeadLetters is the number of entries in the dead-letter queue.
	DeadLetters int
}

// Stats inspects the work and dead-letter queues on a short-lived channel.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	if err := q.Ping(ctx); err != nil {
		return Stats{}, fmt.Errorf("queue stats: %w", err)
	}
	conn, _ := q.current()
	if conn == nil {
		return Stats{}, fmt.Errorf("queue stats: %w", ErrNotConnected)
	}
	ch, err := conn.Channel()
	if err != nil {
		return Stats{}, fmt.Errorf("queue stats: open channel: %w", err)
	}
	defer func() { _ = ch.Close() }()
	// A passive declare only reads; it fails (and closes the channel) when
	// the queue is missing, which is a real problem worth reporting.
	work, err := ch.QueueDeclarePassive(q.topo.Queue, true, false, false, false, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("queue stats: inspect %s: %w", q.topo.Queue, err)
	}
	dead, err := ch.QueueDeclarePassive(q.topo.DeadQueue, true, false, false, false, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("queue stats: inspect %s: %w", q.topo.DeadQueue, err)
	}
	return Stats{Ready: work.Messages, Consumers: work.Consumers, DeadLetters: dead.Messages}, nil
}

// Depth estimates the claims waiting in the work queue: the entries ready
// times the claims per entry of this Queue's last Publish (the pacing
// leader, which reads it, is the one publishing), or times
// maxClaimsPerEntry before it has published, so that it errs on the side of
// a shorter queue. The pacing leader reads it to keep the backlog in the
// database, not in the broker.
func (q *Queue) Depth(ctx context.Context) (int, error) {
	st, err := q.Stats(ctx)
	if err != nil {
		return 0, err
	}
	ratio := q.claimsPerEntry.Load()
	if ratio == 0 {
		ratio = maxClaimsPerEntry * ratioScale
	}
	return int((int64(st.Ready)*ratio + ratioScale - 1) / ratioScale), nil
}

// ratioScale is the fixed point of Queue.claimsPerEntry.
const ratioScale = 1000

func claimsPerEntryRatio(claims, entries int) int64 {
	return int64(claims) * ratioScale / int64(entries)
}
