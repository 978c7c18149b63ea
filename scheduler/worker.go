package scheduler

import (
	"context"
	"fmt"

	"github.com/insiderone/ims"
)

// work delivers one claimed message and passes the outcome to the completer.
func (s *Scheduler) work(ctx context.Context, m ims.Message) {
	if d, held := s.quietHold(m); held {
		s.complete.deferClaim(d)
		return
	}
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
// scheduler is stopped, the message has expired while it waited for a worker
// (released, it is never claimed again and the sweeper expires it), or the
// call was cancelled by shutdown.
func (s *Scheduler) deliver(ctx context.Context, m ims.Message) (ims.Outcome, bool) {
	if !s.now().Add(s.cfg.DeliveryTimeout).Before(m.NextAttemptAt) {
		s.log.Warn("lease too short to deliver safely; releasing", "message_id", m.ID, "now", s.now(), "lease_until", m.NextAttemptAt, "attempt", m.Attempts, "status", m.Status)
		return ims.Outcome{}, false
	}
	if ims.Expired(m.ExpiresAt, s.now()) {
		s.log.Debug("expired before its call; releasing for the sweeper", "message_id", m.ID, "expires_at", m.ExpiresAt)
		return ims.Outcome{}, false
	}
	// Nor does a call start while the fleet is paused by a throttle or the
	// circuit is open, the probe excepted: the claim goes back, uncounted.
	if !s.prov.mayStart(ctx, m) {
		return ims.Outcome{}, false
	}
	// The last check before the call, and the one a stop waits for
	// (stopgate.go): a message claimed ahead, or one that waited for a worker
	// or a renewal, is given back after a stop, not sent. Every path to the
	// webhook passes here. The gate is held until the request is sent, so
	// a stop that has answered has no call behind it.
	callCtx, call, ok := s.openCall(ctx)
	if !ok {
		return ims.Outcome{}, false
	}
	res := s.hook.Deliver(callCtx, m)
	call.finish()
	if ctx.Err() != nil {
		return ims.Outcome{}, false
	}
	pst := s.prov.observe(ctx, res)
	now := s.now()
	d, held := s.cfg.Retry.DecideOutcome(res, ims.OutcomeContext{
		Attempt: m.Attempts, Held: m.Held, ExpiresAt: m.ExpiresAt, Circuit: pst.Circuit,
		PausedUntil: pst.Rate.PausedUntil, Now: now, Jitter: s.jitter(),
	})
	out := ims.Outcome{Claim: m.Claim(), Result: res, Decision: d, At: now, Held: held}
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
