package scheduler

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insiderone/ims"
)

// stopGate makes "after a stop has answered, no instance starts a webhook
// call" hold (README, What a stop guarantees):
//
//   - calls is read-held by every call from its last running check until its
//     request has been handed to the operating system (the Webhook calls the
//     ims.WithRequestSent hook); applyState write-locks it to stop. When
//     applyState returns, every call that passed the check is on the wire,
//     and no later one passes.
//   - A call still dialing is waited for like the others, not aborted: a
//     cancelled dial cannot be told apart from a request already on the wire
//     (the Transport may get its connection and write the request just as the
//     cancellation lands), and calling that "sent nothing" and releasing it
//     delivered a message twice. A dial is bounded by WEBHOOK_TIMEOUT.
//   - readAt is when the last successful read of the stored state began. A
//     call is refused when it is older than staleAfter, so an instance cut
//     off from the database, which cannot learn of a stop, stops calling on
//     its own within a known bound.
//   - confirmed is the state version this instance last wrote to its
//     instances row (ConfirmState), after applying it.
type stopGate struct {
	calls     sync.RWMutex
	readAt    atomic.Pointer[time.Time]
	confirmed atomic.Int64
}

// statePoll is how often watchState reads the stored state when no change
// is signalled.
func (s *Scheduler) statePoll() time.Duration {
	return min(s.cfg.PollInterval, s.cfg.LeaderTTL/3)
}

// staleAfter is the age of the last successful state read past which this
// instance refuses to start calls: three missed polls.
func (s *Scheduler) staleAfter() time.Duration { return 3 * s.statePoll() }

// confirmWait bounds how long a stop waits for an instance's confirmation:
// by then an instance that has not confirmed has not read the state for
// staleAfter and refuses calls itself. The extra poll covers a call that
// passed its check just before and is still being written.
func (s *Scheduler) confirmWait() time.Duration { return s.staleAfter() + s.statePoll() }

// stateFresh reports whether the last successful state read began within
// staleAfter.
func (s *Scheduler) stateFresh() bool {
	at := s.gate.readAt.Load()
	return at != nil && s.now().Sub(*at) <= s.staleAfter()
}

// noteStateRead records a successful read of the stored state that began
// at began, unless a later one is already recorded.
func (s *Scheduler) noteStateRead(began time.Time) {
	for {
		cur := s.gate.readAt.Load()
		if cur != nil && !began.After(*cur) {
			return
		}
		if s.gate.readAt.CompareAndSwap(cur, &began) {
			return
		}
	}
}

// openCall is the last check before a webhook call: it returns the context
// to call with and the call to finish once Deliver returns, or false when
// the call must not start (stopped, stopping, or the state unknown for too
// long). The gate stays read-held until the request is sent or the call
// finishes.
func (s *Scheduler) openCall(ctx context.Context) (context.Context, *gatedCall, bool) {
	if !s.stateFresh() {
		// The watcher lags (or the database is away): one read decides.
		if err := s.refreshState(ctx); err != nil {
			s.log.Debug("state unknown for too long; not starting a call", "err", err)
			return ctx, nil, false
		}
	}
	s.sig.atGate()
	s.gate.calls.RLock()
	if !s.running.Load() || !s.stateFresh() {
		s.gate.calls.RUnlock()
		return ctx, nil, false
	}
	c := &gatedCall{gate: &s.gate}
	return ims.WithRequestSent(ctx, c.release), c, true
}

// gatedCall holds the gate for one call. The Webhook releases it through
// the ims.WithRequestSent hook once the request is sent (a failed write
// does not count: the request may be replayed on a new connection, and that
// replay is the call starting); a Webhook that cannot tell, or a request
// that was never sent, releases at finish.
type gatedCall struct {
	gate     *stopGate
	released atomic.Bool
}

// release lets a stop past this call; only the first of the sent hook and
// finish does anything.
func (c *gatedCall) release() {
	if c.released.CompareAndSwap(false, true) {
		c.gate.calls.RUnlock()
	}
}

// finish ends the call after Deliver returned (or instead of it).
func (c *gatedCall) finish() { c.release() }
