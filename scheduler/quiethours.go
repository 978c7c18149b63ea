package scheduler

import (
	"context"

	"github.com/insiderone/ims"
)

// quietHold reports whether quiet hours hold claimed message m now, and the
// deferral to store instead of a webhook call. A backlog, a retry or a
// send_at can bring a message to a worker inside its recipient's window
// even though its create was outside it; the create's own check
// (ims.CreatePlan) only covers the moment it was made. Both queue modes
// pass here: the database mode's workers (work) and the queue's consumers
// (handleClaim). An expired message is not held: deliver releases it for
// the sweeper, which says why it expired.
func (s *Scheduler) quietHold(m ims.Message) (ims.DeferredClaim, bool) {
	q := s.cfg.QuietHours
	if !q.Enabled() {
		return ims.DeferredClaim{}, false
	}
	now := s.now()
	if ims.Expired(m.ExpiresAt, now) {
		return ims.DeferredClaim{}, false
	}
	d := q.DeferMessage(m, now)
	if !d.Deferred() {
		return ims.DeferredClaim{}, false
	}
	s.log.Debug("quiet hours hold a message", "message_id", m.ID, "time_zone", m.TimeZone,
		"until", d.Until, "expire", d.Expire)
	return ims.DeferredClaim{Claim: m.Claim(), Deferral: d}, true
}

// holdQuiet hands the claimed messages that quiet hours hold back to the
// store (through the completer, batched with the outcomes) and returns the
// others, in order. Checking right after the claim, not only at the
// worker, keeps held messages from taking worker slots, queue entries and
// rate-limit tokens (the caller returns their tokens as unused); the
// worker's own check still catches a message that waited into a window.
func (s *Scheduler) holdQuiet(msgs []ims.Message) []ims.Message {
	if !s.cfg.QuietHours.Enabled() {
		return msgs
	}
	kept := msgs[:0]
	for _, m := range msgs {
		if d, held := s.quietHold(m); held {
			s.complete.deferClaim(d)
			continue
		}
		kept = append(kept, m)
	}
	return kept
}

func (c *completer) deferClaim(d ims.DeferredClaim) { c.in <- completion{deferral: &d} }

func (c *completer) deferWait(ctx context.Context, d ims.DeferredClaim) error {
	return c.wait(ctx, completion{deferral: &d})
}

// flushDeferrals stores a batch's deferrals, with the completer's retries.
// One that is not stored is covered by its lease like any claim: it is
// claimed again when the lease runs out, and held again if still inside
// the window.
func (c *completer) flushDeferrals(ctx context.Context, ds []ims.DeferredClaim) error {
	if len(ds) == 0 {
		return nil
	}
	err := c.retry(ctx, "defer claims for quiet hours", func(ctx context.Context) error {
		return c.store.DeferClaims(ctx, ds, c.actor)
	})
	if err == nil {
		c.sig.deferredN(len(ds))
		c.countExpired(ds)
	}
	return err
}

// ExpiryObserver is implemented by observers that count expiries by reason
// (metrics' ims_messages_expired_total). Optional: Observer need not.
type ExpiryObserver interface {
	Expired(why ims.ExpiryReason, n int)
}

func (m multiObserver) Expired(why ims.ExpiryReason, n int) {
	for _, o := range m {
		if eo, ok := o.(ExpiryObserver); ok {
			eo.Expired(why, n)
		}
	}
}

// countExpired reports the deferrals that expired their message. A stale
// claim among them is counted too: rare, and only a metric.
func (c *completer) countExpired(ds []ims.DeferredClaim) {
	eo, ok := c.obs.(ExpiryObserver)
	if !ok {
		return
	}
	n := 0
	for _, d := range ds {
		if d.Deferral.Expire {
			n++
		}
	}
	if n > 0 {
		eo.Expired(ims.ExpiryQuietHours, n)
	}
}
