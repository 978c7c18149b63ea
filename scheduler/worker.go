package scheduler

import (
	"context"
	"fmt"

	"github.com/insiderone/ims"
)

// work delivers one claimed message and passes the outcome to the completer.
func (s *Scheduler) work(ctx context.Context, m ims.Message) {
	out, ok := s.deliver(ctx, m)
	if !ok {
		s.complete.release(m.Claim())
		return
	}
	s.complete.submit(out)
}

// deliver calls the webhook and applies the retry policy. It returns false
// when the delivery did not happen and the claim must be released: the lease
// would run out during the call (another instance could then claim it), the
// scheduler is stopped, or the call was cancelled by shutdown.
func (s *Scheduler) deliver(ctx context.Context, m ims.Message) (ims.Outcome, bool) {
	if !s.now().Add(s.cfg.DeliveryTimeout).Before(m.NextAttemptAt) {
		s.log.Warn("lease too short to deliver safely; releasing", "message_id", m.ID, "now", s.now(), "lease_until", m.NextAttemptAt, "attempt", m.Attempts, "status", m.Status)
		return ims.Outcome{}, false
	}
	// The last check before the call: a message claimed ahead, or one that
	// waited for a worker or a renewal, is given back after a stop, not sent.
	// Every path to the webhook passes here.
	if !s.running.Load() {
		return ims.Outcome{}, false
	}
	res := s.hook.Deliver(ctx, m)
	if ctx.Err() != nil {
		return ims.Outcome{}, false
	}
	now := s.now()
	d := s.cfg.Retry.Decide(m.Attempts, res, now, s.jitter())
	out := ims.Outcome{Claim: m.Claim(), Result: res, Decision: d, At: now}
	s.obs.Delivered(out)
	if d.Status != ims.StatusSent {
		s.log.Debug("delivery failed", "message_id", m.ID, "attempt", m.Attempts, "outcome", d.Status, "reason", d.Reason)
	}
	return out, true
}

// storedStopped reads the stored state, applying it here at once (this
// instance may not have seen the stop yet), and reports whether it is
// stopped.
func (s *Scheduler) storedStopped(ctx context.Context) (bool, error) {
	st, err := s.store.SchedulerState(ctx)
	if err != nil {
		return false, fmt.Errorf("read scheduler state: %w", err)
	}
	s.applyState(st)
	return !st.Running, nil
}

// consume runs this instance's queue consumer (RabbitMQ mode).
func (s *Scheduler) consume(ctx, deliverCtx context.Context) {
	err := s.queue.Consume(ctx, func(_ context.Context, c ims.Claim) error {
		return s.handleClaim(deliverCtx, c)
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("queue consumer stopped", "err", err)
	}
}

// handleClaim delivers one queue entry. Returning nil acks it, so it returns
// nil only once the outcome (or the release) is stored.
func (s *Scheduler) handleClaim(ctx context.Context, c ims.Claim) error {
	if !s.running.Load() {
		// Stopped: nothing may be sent. Give the claim back to the database;
		// the leader dispatches it again after the next start.
		return s.complete.releaseWait(ctx, c)
	}
	m, current, err := s.renew.renew(ctx, c)
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
	out, ok := s.deliver(ctx, m)
	if !ok {
		return s.complete.releaseWait(ctx, m.Claim())
	}
	return s.complete.submitWait(ctx, out)
}
