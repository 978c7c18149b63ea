package scheduler

import (
	"context"
	"time"

	"github.com/insiderone/ims"
)

// mayDispatch says whether this instance claims work now: only while
// running, and only as the leader when the pace or the handoff is the
// fleet's (see New). In continuous database mode every instance claims.
func (s *Scheduler) mayDispatch() bool {
	if !s.running.Load() {
		return false
	}
	return !s.leaderOnly || s.isLeader()
}

// pacedLoop dispatches up to BatchSize messages every Interval. Deadlines
// advance by whole intervals from the previous one, so the pace does not
// drift with the time each batch takes; a start within the current interval
// (stop/start, leader change on this instance) does not dispatch early.
func (s *Scheduler) pacedLoop(ctx, deliverCtx context.Context) {
	var next time.Time
	for {
		wait := s.cfg.PollInterval
		dispatched := false
		if s.mayDispatch() {
			now := s.now()
			held := time.Duration(0)
			if !now.Before(next) {
				claimed, _ := s.dispatch(ctx, deliverCtx, s.cfg.BatchSize)
				if held = s.gateWait(); claimed > 0 || held == 0 {
					held = 0
					dispatched = true
					if next.IsZero() || now.Sub(next) >= s.cfg.Interval {
						next = now // idle or far behind: restart the grid from now
					}
					next = next.Add(s.cfg.Interval)
				}
			}
			wait = next.Sub(s.now())
			if held > 0 {
				// The provider gate held the whole batch back (a pause, an
				// open circuit, no tokens): this interval's batch goes when
				// the gate opens, not an interval later.
				wait = held
			}
		}
		timer := s.after(wait)
		s.sig.ticked(dispatched)
		select {
		case <-ctx.Done():
			return
		case <-timer:
		case <-s.changed:
		}
	}
}

// continuousLoop claims as fast as the workers free up, and sleeps only when
// nothing is due: until new work is signalled (LISTEN/NOTIFY or in-process),
// the state changes, or PollInterval passes (messages scheduled for later
// become due without a signal).
func (s *Scheduler) continuousLoop(ctx, deliverCtx context.Context) {
	var wakeups <-chan struct{}
	if w, ok := s.store.(ims.Waker); ok {
		wakeups = w.Wakeups()
	}
	for {
		dispatched := false
		if s.mayDispatch() {
			dispatched = true
			claimed, drained := s.dispatch(ctx, deliverCtx, s.cfg.BatchSize)
			if !drained {
				if wait := s.gateWait(); wait > 0 || claimed == 0 {
					// Held back by the gate until gateUntil, or no room (a
					// full queue): give the consumers a moment.
					timer := s.after(max(wait, depthCacheFor))
					s.sig.ticked(true)
					select {
					case <-ctx.Done():
						return
					case <-timer:
					}
				}
				continue
			}
		}
		timer := s.after(s.cfg.PollInterval)
		s.sig.ticked(dispatched)
		select {
		case <-ctx.Done():
			return
		case <-wakeups:
		case <-s.changed:
		case <-timer:
		}
	}
}

// dispatch claims up to budget messages, in claims no larger than the room
// the handoff reserves, and hands them over. drained is true when a claim
// found fewer messages due than it asked for, or when dispatching must end;
// false after a full budget, or when the handoff had no room (more is due).
func (s *Scheduler) dispatch(ctx, deliverCtx context.Context, budget int) (claimed int, drained bool) {
	for claimed < budget {
		n := s.handoff.reserve(ctx, budget-claimed)
		if n == 0 {
			return claimed, ctx.Err() != nil
		}
		a, err := s.prov.admit(ctx, n)
		if err != nil {
			s.handoff.unreserve(n)
			s.logTransient("read the provider state", err)
			return claimed, true
		}
		if a.n == 0 { // held back: paused, the circuit open, no tokens
			s.handoff.unreserve(n)
			s.gateUntil = a.until
			return claimed, false
		}
		msgs, err := s.claim(ctx, a.n)
		found := len(msgs)
		msgs = s.holdQuiet(msgs) // quiet hours: handed back, not handed over
		s.prov.claimed(ctx, a, msgs)
		s.handoff.unreserve(n - len(msgs))
		if err != nil {
			s.logTransient("claim due messages", err)
			return claimed, true
		}
		if len(msgs) > 0 {
			s.handoff.handOver(ctx, deliverCtx, msgs)
		}
		claimed += len(msgs)
		if found < a.n || a.probe {
			return claimed, true
		}
		if a.n < n { // the gate granted less than asked: ask again later
			s.gateUntil = a.until
			return claimed, false
		}
	}
	return claimed, false
}

func (s *Scheduler) claim(ctx context.Context, n int) ([]ims.Message, error) {
	msgs, err := s.store.ClaimDue(ctx, ims.ClaimParams{Limit: n, Lease: s.handoff.lease(), Actor: s.actor()})
	if err == nil && len(msgs) > 0 {
		s.obs.Claimed(len(msgs))
		s.sig.claimedN(len(msgs))
	}
	return msgs, err
}

// gateWait is how long the provider gate asked the dispatch loop to wait,
// bounded by PollInterval (a change elsewhere in the fleet, a probe
// answered, is seen by then); 0 when it did not hold anything back.
func (s *Scheduler) gateWait() time.Duration {
	until := s.gateUntil
	s.gateUntil = time.Time{}
	if until.IsZero() {
		return 0
	}
	return min(max(until.Sub(s.now()), time.Millisecond), s.cfg.PollInterval)
}
