package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insiderone/ims"
)

// queueHandoff is RabbitMQ mode: the leader claims and publishes the claims;
// every instance consumes them, checks each claim against the database (it
// is only a claim: the database stays the source of truth; see checkOnly)
// and delivers it.
type queueHandoff struct {
	s     *Scheduler
	queue ims.Queue
	renew *renewer
	// depth and depthAt cache the broker queue depth; only the dispatch
	// loop touches them.
	depth   int
	depthAt time.Time
	// toPublish carries claimed batches to the publisher, so that the
	// dispatch loop's next claim overlaps the broker's confirms of the last
	// batch instead of waiting for them (the leader's loop was otherwise
	// claim, wait for confirms, claim: goroutine dumps of a 150k run showed
	// it in Publish each time). unpublished counts the entries handed to the
	// publisher and not yet confirmed, which a depth reading cannot see.
	toPublish   chan []ims.Message
	unpublished atomic.Int64
	publisher   sync.WaitGroup
}

func newQueueHandoff(s *Scheduler, deps Deps) (handoff, error) {
	if deps.Queue == nil {
		return nil, errors.New("scheduler: RabbitMQ mode needs a Queue")
	}
	return &queueHandoff{
		s: s, queue: deps.Queue, renew: newRenewer(deps.Store, s.cfg.Lease),
		toPublish: make(chan []ims.Message), // unbuffered: see handOver
	}, nil
}

// lease is the lease of a claim published and not yet picked up by a
// consumer. A consumer delivers within it, or renews it to Lease first
// (checkOnly).
func (h *queueHandoff) lease() time.Duration { return h.s.cfg.HandoverLease }

// leaderClaims: the leader publishes, so that one instance's room
// accounting (reserve) bounds the broker queue.
func (h *queueHandoff) leaderClaims() bool { return true }

// commitsInFlight: a consumer acks only once its outcome is committed, so
// the whole prefetch window waits on the commits (see completer).
func (h *queueHandoff) commitsInFlight() int { return outcomeFlushers }

// start runs this instance's consumer, the renewer it uses and the
// publisher. The renewer and the publisher outlive the consumer and the
// dispatch loop: stop runs once the shutdown has waited for both (so nothing
// more is handed over) and for every consumer's delivery. The publisher then
// gets through what is left (after ctx has ended a publish fails at once,
// and those claims are released).
func (h *queueHandoff) start(ctx, deliverCtx context.Context) func() {
	renewCtx, stopRenewer := context.WithCancel(context.WithoutCancel(ctx))
	renewerDone := make(chan struct{})
	go func() { defer close(renewerDone); h.renew.run(renewCtx) }()
	h.publisher.Go(func() {
		for msgs := range h.toPublish {
			h.publish(ctx, msgs)
		}
	})
	h.s.goLoop(func() { h.consume(ctx, deliverCtx) })
	return func() {
		close(h.toPublish)
		h.publisher.Wait()
		stopRenewer()
		<-renewerDone
	}
}

// QueueDepth is implemented by queues that can tell how many entries wait.
type QueueDepth interface {
	Depth(ctx context.Context) (int, error)
}

// depthCacheFor bounds how stale the leader's view of the queue depth gets.
const depthCacheFor = 50 * time.Millisecond

// reserve is how many more entries the broker queue may take (MaxQueued in
// all). Reading the depth costs broker round trips, so it is read at most
// every depthCacheFor and the entries published since are counted locally.
func (h *queueHandoff) reserve(ctx context.Context, want int) int {
	if ctx.Err() != nil {
		return 0
	}
	qd, ok := h.queue.(QueueDepth)
	if !ok {
		return want
	}
	now := h.s.now()
	if now.Sub(h.depthAt) >= depthCacheFor {
		depth, err := qd.Depth(ctx)
		if err != nil {
			h.s.logTransient("read queue depth", err)
			return 0
		}
		h.depth, h.depthAt = depth+int(h.unpublished.Load()), now
	}
	return max(0, min(want, h.s.cfg.MaxQueued-h.depth))
}

// unreserve has nothing to give back: room is the broker's, read again.
func (h *queueHandoff) unreserve(int) {}

// handOver passes the claims to the publisher, waiting while it is still
// publishing the previous batch: the next claim overlaps one publish, and
// at most two batches are claimed and not yet confirmed.
func (h *queueHandoff) handOver(_, _ context.Context, msgs []ims.Message) {
	h.depth += len(msgs) // counted until the next depth reading
	h.unpublished.Add(int64(len(msgs)))
	h.toPublish <- msgs
}

// publish publishes the claims; those the broker did not confirm are
// released, so they are dispatched again.
func (h *queueHandoff) publish(ctx context.Context, msgs []ims.Message) {
	claims := make([]ims.Claim, len(msgs))
	for i, m := range msgs {
		claims[i] = m.HandOver()
	}
	err := h.queue.Publish(ctx, claims)
	h.unpublished.Add(-int64(len(msgs)))
	if err != nil {
		h.s.log.Warn("publish to queue failed; releasing the claims so they are dispatched again", "err", err, "count", len(claims))
		for _, m := range msgs {
			h.s.complete.release(m.Claim())
		}
	}
}

// consume runs this instance's queue consumer.
func (h *queueHandoff) consume(ctx, deliverCtx context.Context) {
	err := h.queue.Consume(ctx, func(held context.Context, d ims.Delivery) error {
		return h.handleClaim(deliverCtx, held, d)
	})
	if err != nil && ctx.Err() == nil {
		h.s.log.Error("queue consumer stopped", "err", err)
	}
}

// handleClaim delivers one queue entry. Returning nil acks it, so it returns
// nil only once the outcome (or the release) is stored. held ends when this
// consumer no longer holds the entry (ims.Queue.Consume).
func (h *queueHandoff) handleClaim(ctx, held context.Context, entry ims.Delivery) error {
	s := h.s
	c := entry.Claim
	if !s.running.Load() {
		// Stopped: nothing may be sent. Give the claim back to the database;
		// the leader dispatches it again after the next start.
		return s.complete.releaseWait(ctx, c)
	}
	m, current, err := h.renew.renew(ctx, c, h.checkOnly(entry))
	if err != nil {
		return fmt.Errorf("renew claim %s: %w", c.MessageID, err)
	}
	if !current {
		stopped, err := s.storedStopped(ctx)
		if err != nil {
			return fmt.Errorf("claim %s not renewed: %w", c.MessageID, err)
		}
		if stopped {
			// Renewals are refused once a stop has committed, on every
			// instance: give it back for the next start.
			return s.complete.releaseWait(ctx, c)
		}
		s.obs.StaleClaim()
		return nil // a duplicate or a late entry: the database says it is not ours
	}
	if !s.acquireWorker(ctx) {
		return s.complete.releaseWait(ctx, m.Claim())
	}
	if held.Err() != nil {
		// The broker took the entry back (this consumer's channel was lost)
		// and may have handed it to another consumer, whose renewal of the
		// redelivered entry succeeds when this one only checked: a call from
		// here now could be the second, and a release or a deferral would
		// undo that consumer's claim. Nothing is written: the claim is the
		// redelivered entry's now.
		s.releaseWorker()
		s.log.Debug("queue entry taken back before its call; leaving it to the broker", "message_id", m.ID)
		return nil
	}
	// Quiet hours are judged once a worker is free, right before the call:
	// the wait for one may have carried the message into its window.
	if deferral, quiet := s.quietHold(m); quiet {
		s.releaseWorker()
		return s.complete.deferWait(ctx, deferral)
	}
	out, ok := s.deliver(ctx, m)
	s.releaseWorker()
	if !ok {
		return s.complete.releaseWait(ctx, m.Claim())
	}
	return s.complete.submitWait(ctx, out)
}

// checkOnly reports whether a consumer may deliver d's claim after checking
// that it is current, leaving its handed-over lease as it is, instead of
// renewing it first. A check writes nothing (a renewal moves the message's
// deadline, an update of the row and of its indexes: most of RabbitMQ mode's
// extra database work, docs/benchmarks.md), and it is enough when
//
//   - the entry is handed out for the first time: the broker gives an entry
//     to one consumer at a time and hands it to another only after taking it
//     back, marked redelivered. A redelivered entry is renewed, a
//     compare-and-set on the handed-over deadline, so of two consumers of
//     the same redelivered entry only the first delivers; a consumer that
//     only checked and lost the entry before its call does not make the call
//     (handleClaim's held check);
//   - the handed-over lease still has at least Lease to run, as long as a
//     renewal would give it;
//   - the claim carries its handed-over deadline (an entry of an older
//     version may not), which the check compares.
//
// A consumer that crashes after a check leaves the lease as handed over
// (RABBITMQ_HANDOVER_LEASE): the broker requeues the entry at once and the
// next consumer renews it, so only an entry the broker itself lost waits for
// the lease (a renewed one waited Lease).
func (h *queueHandoff) checkOnly(d ims.Delivery) bool {
	return !d.Redelivered && !d.LeaseUntil.IsZero() && !d.LeaseUntil.Before(h.s.now().Add(h.s.cfg.Lease))
}
