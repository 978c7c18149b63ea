package rabbitmq

import (
	"context"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/insiderone/ims"
)

// Publish hands claims to the broker and returns nil only once every one of
// them is confirmed. It packs them into entries of up to maxClaimsPerEntry
// claims, and writes the whole batch before any confirm is awaited, so a
// batch costs one round trip, not one per entry. On any error — not
// connected, a nack, a timeout, a connection lost mid-batch — the caller must
// treat the whole batch as unpublished (some entries may still have been
// enqueued; consumers drop those duplicates by their handed-over deadline,
// which the claims' next claim changes).
func (q *Queue) Publish(ctx context.Context, claims []ims.Claim) error {
	if len(claims) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, q.cfg.PublishTimeout)
	defer cancel()

	q.pubMu.Lock()
	defer q.pubMu.Unlock()
	ch, err := q.publishChannel()
	if err != nil {
		return fmt.Errorf("publish %d claims: %w", len(claims), err)
	}
	if err := q.publishBatch(ctx, ch, claims); err != nil {
		// Confirms still owed on this channel would be ambiguous; start the
		// next batch on a fresh one.
		_ = ch.Close()
		q.pubCh = nil
		return fmt.Errorf("publish %d claims: %w", len(claims), err)
	}
	return nil
}

// publishChannel returns the confirm-mode channel, opening one on the current
// connection when there is none. Callers hold pubMu.
func (q *Queue) publishChannel() (*amqp.Channel, error) {
	if q.pubCh != nil && !q.pubCh.IsClosed() {
		return q.pubCh, nil
	}
	q.pubCh = nil
	if err := q.Ping(context.Background()); err != nil {
		return nil, err
	}
	conn, _ := q.current()
	if conn == nil {
		return nil, ErrNotConnected
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publish channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	q.pubCh = ch
	return ch, nil
}

func (q *Queue) publishBatch(ctx context.Context, ch *amqp.Channel, claims []ims.Claim) error {
	entries := entriesFor(len(claims))
	pending := make([]*amqp.DeferredConfirmation, 0, entries)
	for i, start := 0, 0; i < entries; i++ {
		// Spread the claims evenly: 17 claims make entries of 9 and 8, not
		// of 16 and 1.
		end := start + (len(claims)-start)/(entries-i)
		if (len(claims)-start)%(entries-i) != 0 {
			end++
		}
		part := claims[start:end]
		start = end
		body, err := AppendEntry(nil, part)
		if err != nil {
			return err
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, q.topo.Exchange, q.topo.RoutingKey, false, false, amqp.Publishing{
			ContentType:  contentType,
			DeliveryMode: amqp.Persistent,
			Body:         body,
		})
		if err != nil {
			return fmt.Errorf("publish claims %s…: %w", part[0].MessageID, err)
		}
		pending = append(pending, dc)
	}
	nacked := 0
	for _, dc := range pending {
		acked, err := dc.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("wait for publisher confirms: %w", err)
		}
		if !acked {
			nacked++
		}
	}
	if nacked > 0 {
		// A channel closed mid-batch also nacks what it still owed.
		return fmt.Errorf("broker did not confirm %d of %d entries", nacked, entries)
	}
	q.claimsPerEntry.Store(claimsPerEntryRatio(len(claims), entries))
	return nil
}

// entriesFor is how many entries n claims are published in.
func entriesFor(n int) int { return (n + maxClaimsPerEntry - 1) / maxClaimsPerEntry }
