package rabbitmq

import (
	"context"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Stats is a snapshot of the queues, for the health check and metrics.
type Stats struct {
	// Ready is the number of entries waiting in the work queue (each carries
	// up to maxClaimsPerEntry claims; see Depth for claims). AMQP reports
	// ready entries only: those delivered and not yet acknowledged are not
	// counted (the management API would be needed for that).
	Ready int
	// Consumers is the number of consumers subscribed to the work queue,
	// across all instances (or to the legacy one, when more: instances from
	// before the claims format read only that).
	Consumers int
	// DeadLetters is the number of entries in the dead-letter queue.
	DeadLetters int
}

// Stats inspects the work and dead-letter queues on a short-lived channel.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	st, err := q.queueStats(ctx)
	if err != nil {
		return Stats{}, err
	}
	return Stats{
		Ready:       st.work.Messages + st.legacy.Messages,
		Consumers:   max(st.work.Consumers, st.legacy.Consumers),
		DeadLetters: st.dead.Messages,
	}, nil
}

type queueStats struct{ work, legacy, dead amqp.Queue }

func (q *Queue) queueStats(ctx context.Context) (queueStats, error) {
	if err := q.Ping(ctx); err != nil {
		return queueStats{}, fmt.Errorf("queue stats: %w", err)
	}
	conn, _ := q.current()
	if conn == nil {
		return queueStats{}, fmt.Errorf("queue stats: %w", ErrNotConnected)
	}
	ch, err := conn.Channel()
	if err != nil {
		return queueStats{}, fmt.Errorf("queue stats: open channel: %w", err)
	}
	defer func() { _ = ch.Close() }()
	// A passive declare only reads; it fails (and closes the channel) when
	// the queue is missing, which is a real problem worth reporting.
	var st queueStats
	for _, x := range []struct {
		name string
		to   *amqp.Queue
	}{{q.topo.Queue, &st.work}, {q.topo.LegacyQueue, &st.legacy}, {q.topo.DeadQueue, &st.dead}} {
		*x.to, err = ch.QueueDeclarePassive(x.name, true, false, false, false, nil)
		if err != nil {
			return queueStats{}, fmt.Errorf("queue stats: inspect %s: %w", x.name, err)
		}
	}
	return st, nil
}

// Depth estimates the claims waiting in the work queue: the entries ready
// times the claims per entry of this Queue's last Publish (the pacing
// leader, which reads it, is the one publishing), or times
// maxClaimsPerEntry before it has published, so that it errs on the side of
// a shorter queue. The pacing leader reads it to keep the backlog in the
// database, not in the broker.
func (q *Queue) Depth(ctx context.Context) (int, error) {
	st, err := q.queueStats(ctx)
	if err != nil {
		return 0, err
	}
	ratio := q.claimsPerEntry.Load()
	if ratio == 0 {
		ratio = maxClaimsPerEntry * ratioScale
	}
	// A legacy entry is one claim.
	return st.legacy.Messages + int((int64(st.work.Messages)*ratio+ratioScale-1)/ratioScale), nil
}

// ratioScale is the fixed point of Queue.claimsPerEntry.
const ratioScale = 1000

func claimsPerEntryRatio(claims, entries int) int64 {
	return int64(claims) * ratioScale / int64(entries)
}
