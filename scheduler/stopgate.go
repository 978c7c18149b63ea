package scheduler

import (
	"context"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// stopGate makes "after a stop has answered, no instance starts a webhook
// call" hold (README, What a stop guarantees):
//
//   - calls is read-held by every call from its last running check until its
//     request is written to the connection; applyState write-locks it to
//     stop. When applyState returns, every call that passed the check is on
//     the wire, and no later one passes.
//   - A call still without a connection (dialing) when a stop comes is
//     aborted instead of waited for: a provider that does not answer
//     connects would otherwise hold the stop for the webhook timeout. It
//     sent nothing, so its claim is released, uncounted.
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

	// stopping is set while a stop aborts the dialing calls and waits for
	// the rest; a call that passes its check meanwhile refuses itself.
	stopping atomic.Bool
	mu       sync.Mutex
	dialing  map[*gatedCall]struct{}
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
// long). The gate stays read-held until the request is written or the call
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
	callCtx, cancel := context.WithCancel(ctx)
	c := &gatedCall{gate: &s.gate, cancel: cancel}
	c.trace.GotConn, c.trace.WroteRequest = c.gotConn, c.wrote
	s.gate.track(c)
	// A stop that began after the check above may have swept the dialing
	// calls before this one was tracked: then this call gives way.
	if s.gate.stopping.Load() && c.phase.CompareAndSwap(phaseDialing, phaseAborted) {
		c.finish()
		return ctx, nil, false
	}
	return httptrace.WithClientTrace(callCtx, &c.trace), c, true
}

// abortDialing cancels the calls past their check that have no connection
// yet; each then finishes on its own, aborted.
func (g *stopGate) abortDialing() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.dialing {
		if c.phase.CompareAndSwap(phaseDialing, phaseAborted) {
			c.cancel()
		}
	}
	clear(g.dialing)
}

func (g *stopGate) track(c *gatedCall) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dialing == nil {
		g.dialing = map[*gatedCall]struct{}{}
	}
	g.dialing[c] = struct{}{}
}

func (g *stopGate) forget(c *gatedCall) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.dialing, c)
}

// A gated call's phases: a stop aborts it only while it dials.
const (
	phaseDialing int32 = iota
	phaseConnected
	phaseAborted
)

// gatedCall holds the gate for one call. net/http's Transport calls the
// trace's hooks from the request's context; a webhook that is not HTTP (or
// a request that fails before it is written) releases at finish.
type gatedCall struct {
	gate     *stopGate
	cancel   context.CancelFunc
	phase    atomic.Int32
	released atomic.Bool
	trace    httptrace.ClientTrace
}

// gotConn: the call has its connection; from here a stop waits for the
// write (quick on an open connection) rather than abort it.
func (c *gatedCall) gotConn(httptrace.GotConnInfo) {
	if c.phase.CompareAndSwap(phaseDialing, phaseConnected) {
		c.gate.forget(c)
	}
}

// wrote releases the gate: the request is on the wire. A failed write does
// not: the Transport may replay the request on a new connection (it counts
// a request with an Idempotency-Key as idempotent), and that replay is a
// call starting; finish releases if none comes.
func (c *gatedCall) wrote(info httptrace.WroteRequestInfo) {
	if info.Err == nil {
		c.release()
	}
}

func (c *gatedCall) release() {
	if c.released.CompareAndSwap(false, true) {
		c.gate.calls.RUnlock()
	}
}

// finish ends the call after Deliver returned (or instead of it) and
// reports whether a stop aborted it before it had a connection, in which
// case nothing was sent.
func (c *gatedCall) finish() (aborted bool) {
	c.phase.CompareAndSwap(phaseDialing, phaseConnected) // no abort from now on
	c.gate.forget(c)
	c.release()
	c.cancel()
	return c.phase.Load() == phaseAborted
}
