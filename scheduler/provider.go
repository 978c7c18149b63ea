package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/stats"
)

// providerRefresh bounds how stale an instance's view of the fleet's
// circuit and pause gets. The view is read, never written, on the hot path:
// a closed circuit with no rate limit costs one small read per instance per
// providerRefresh, whatever the throughput.
const providerRefresh = 250 * time.Millisecond

// rampStep is the wait between claims while the circuit's ramp holds
// without a rate limit: each claim is scaled down by the ramp, and this
// spaces them, so a recovered provider gets a growing trickle, not the
// backlog at once.
const rampStep = 20 * time.Millisecond

// reserveAhead is how much of the fleet's rate an instance takes from the
// shared bucket at once when the limit is far above what one claim asks
// for: the claims of the next reserveAhead are admitted from the tokens it
// holds (the reservoir) instead of each taking its own in a store
// transaction, which cost a fifth of the throughput with a limit set but
// never reached (docs/benchmarks.md). Tokens held are used within
// reserveAhead or go back to the bucket, so the limit's guarantee widens by
// this much of the rate at most: a window of t seconds sees at most
// burst + rate × (t + reserveAhead) calls. A limit near what one claim asks
// for reserves nothing and takes per claim as before.
const reserveAhead = 50 * time.Millisecond

// ProviderObserver is implemented by observers that count the fleet's
// dealings with the provider (metrics). Optional: Observer need not.
type ProviderObserver interface {
	CircuitChanged(change ims.CircuitChange)
	Throttled()
}

// provider gates webhook calls on the fleet-wide circuit breaker and rate
// limiter (ims.Circuit, ims.RateState), stored in one row so every instance
// obeys them. The rules are the domain's; this only reads, applies and
// stores them.
type provider struct {
	store   ims.ProviderStore
	breaker ims.BreakerPolicy
	rate    ims.RatePolicy
	unit    ims.RateUnit
	now     ims.Clock
	log     *slog.Logger
	obs     Observer
	actor   string

	mu  sync.Mutex
	st  ims.ProviderState // the newest state seen
	res reservoir         // tokens taken ahead (reserveAhead), guarded by mu
}

// reservoir holds tokens taken from the fleet's bucket and not yet granted
// to a claim.
type reservoir struct {
	tokens int
	until  time.Time // after it, what is left goes back to the bucket
}

func newProvider(s *Scheduler) *provider {
	return &provider{
		store: s.store, breaker: s.cfg.Breaker, rate: s.cfg.Rate, unit: s.cfg.RateUnit, now: s.now, log: s.log, obs: s.obs, actor: s.actor(),
	}
}

func (p *provider) cached() ims.ProviderState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// set keeps st unless a newer version was seen (reads and writes race).
func (p *provider) set(st ims.ProviderState) {
	p.mu.Lock()
	if st.Version >= p.st.Version {
		p.st = st
	}
	p.mu.Unlock()
}

// free reports whether nothing holds calls back, so that dispatch and the
// workers skip the stored state altogether: no rate limit, the circuit
// closed and past its ramp, no pause.
func (p *provider) free(st ims.ProviderState, now time.Time) bool {
	return p.rate.Limit <= 0 && st.Circuit.Position() == ims.CircuitClosed &&
		!st.Rate.Paused(now) && st.Circuit.RampFraction(now) >= 1
}

// refresh reads the stored state.
func (p *provider) refresh(ctx context.Context) error {
	st, err := p.store.ProviderState(ctx)
	if err != nil {
		return err
	}
	p.set(st)
	return nil
}

// watch keeps the view fresh until ctx ends.
func (p *provider) watch(ctx context.Context, after func(time.Duration) <-chan time.Time, logTransient func(string, error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-after(providerRefresh):
		}
		if err := p.refresh(ctx); err != nil {
			logTransient("read provider state", err)
		}
	}
}

// admission is what the gate allows one claim.
type admission struct {
	n     int
	probe bool
	// until is when to ask again, when n is less than wanted.
	until time.Time
}

// admit asks the stored state for up to want calls: none while paused or
// while the circuit is open (until then), one probe when the probe is due,
// else want scaled by the ramp and limited by the fleet's tokens, taken
// under the row lock so two instances never take the same ones.
func (p *provider) admit(ctx context.Context, want int) (admission, error) {
	now := p.now()
	st := p.cached()
	if p.free(st, now) {
		return admission{n: want}, nil
	}
	reserve := p.reserveSize(st, now)
	if p.fromReservoir(want, reserve > 0, now) {
		return admission{n: want}, nil
	}
	leftover := p.takeReservoir()
	var (
		a    admission
		kept int
	)
	st, err := p.store.UpdateProviderState(ctx, func(cur ims.ProviderState) (ims.ProviderState, []ims.AuditEvent) {
		a, kept = admission{}, 0
		cur.Rate = cur.Rate.Return(p.rate, leftover)
		if cur.Rate.Paused(now) {
			a.until = cur.Rate.PausedUntil
			return cur, nil
		}
		allowed, probe, next := cur.Circuit.MayCall(p.breaker, now)
		if !allowed {
			a.until = cur.Circuit.NextProbeAt
			return cur, nil
		}
		if probe {
			cur.Circuit, cur.ProbeID = next, ""
			a.n, a.probe = 1, true
			return cur, nil
		}
		n := want
		if f := cur.Circuit.RampFraction(now); f < 1 {
			n = max(1, int(math.Ceil(f*float64(want))))
			a.until = now.Add(rampStep)
		}
		ask := n
		if n == want {
			ask = max(n, reserve) // no ramp: take ahead
		}
		granted, rate, wait := cur.Rate.Take(p.rate, ask, now)
		cur.Rate, a.n, kept = rate, min(granted, n), max(granted-n, 0)
		if granted < n {
			a.until = wait
		}
		return cur, nil
	})
	if err != nil {
		return admission{}, err
	}
	p.set(st)
	p.keep(kept, now)
	if a.probe {
		p.log.Info("webhook circuit half open: sending one probe", "instance", p.actor)
	}
	return a, nil
}

// claimed settles an admission with what the claim found: the probe's
// message is named in the stored state (only it may be sent while half
// open, by whichever instance holds it), a probe that found nothing due
// reopens the circuit with its probe due at once, and tokens granted and
// not used go back to the bucket. With WEBHOOK_RATE_UNIT=segments the
// claim took one token per message; the segments beyond one are charged
// here, now that the messages are known (ims.RateState.Charge).
func (p *provider) claimed(ctx context.Context, a admission, msgs []ims.Message) {
	if p.rate.Limit <= 0 && !a.probe {
		return // no limit: nothing to settle, not even the segments
	}
	unused := a.n - len(msgs)
	extra := 0
	if p.rate.Limit > 0 {
		extra = ims.ExtraCost(msgs, p.unit)
	}
	if !a.probe && unused <= 0 && extra == 0 {
		return
	}
	now := p.now()
	if !a.probe && p.settleLocally(unused, extra, now) {
		return
	}
	st, err := p.store.UpdateProviderState(ctx, func(cur ims.ProviderState) (ims.ProviderState, []ims.AuditEvent) {
		cur.Rate = cur.Rate.Charge(p.rate, extra, now)
		switch {
		case !a.probe:
			cur.Rate = cur.Rate.Return(p.rate, unused)
		case cur.Circuit.Position() != ims.CircuitHalfOpen || cur.ProbeID != "":
			// Answered, or given up and probed again, meanwhile.
		case len(msgs) == 1:
			cur.ProbeID = msgs[0].ID
		default:
			cur.Circuit.State, cur.Circuit.NextProbeAt = ims.CircuitOpen, now
		}
		return cur, nil
	})
	if err != nil {
		p.log.Warn("store the provider state after a claim failed", "err", err)
		return
	}
	p.set(st)
}

// reserveSize is how many tokens to take ahead (reserveAhead of the
// effective rate), or 0 when nothing is to be held: no limit, a pause, a
// circuit not closed or still ramping (each claim is then paced by the
// stored state), or a rate too low for reserveAhead to hold a call.
func (p *provider) reserveSize(st ims.ProviderState, now time.Time) int {
	if p.rate.Limit <= 0 || st.Rate.Paused(now) || st.Circuit.Position() != ims.CircuitClosed ||
		st.Circuit.RampFraction(now) < 1 {
		return 0
	}
	return int(st.Rate.EffectiveRate(p.rate, now) * reserveAhead.Seconds())
}

// fromReservoir grants want tokens from the reservoir if it holds them and
// may (ok: reserveSize allows holding). Held tokens are dropped, not given
// back, when holding is no longer allowed: a pause or an open circuit has
// its own rate.
func (p *provider) fromReservoir(want int, ok bool, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !ok {
		p.res = reservoir{}
		return false
	}
	if p.res.tokens < want || !now.Before(p.res.until) {
		return false
	}
	p.res.tokens -= want
	return true
}

// takeReservoir empties the reservoir and returns what it held, for the
// next store transaction to give back.
func (p *provider) takeReservoir() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.res.tokens
	p.res = reservoir{}
	return n
}

// keep puts tokens taken ahead in the reservoir, for reserveAhead.
func (p *provider) keep(n int, now time.Time) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	p.res = reservoir{tokens: n, until: now.Add(reserveAhead)}
	p.mu.Unlock()
}

// settleLocally settles a claim against the reservoir while it is current:
// the tokens the claim did not use go into it, and the segments beyond one
// are paid from it if it holds them. It reports false, changing nothing,
// when the store must settle instead.
func (p *provider) settleLocally(unused, extra int, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !now.Before(p.res.until) || p.res.tokens+max(unused, 0) < extra {
		return false
	}
	p.res.tokens += max(unused, 0) - extra
	return true
}

// mayStart is the check right before a webhook call: none starts while the
// fleet is paused or the circuit is open, except the probe. A claim made
// before the change is then released by the caller, with no attempt counted.
// Only a view that is not free is read again: it may be behind the probe.
func (p *provider) mayStart(ctx context.Context, m ims.Message) bool {
	now := p.now()
	st := p.cached()
	if p.free(st, now) || (st.Circuit.Position() == ims.CircuitClosed && !st.Rate.Paused(now)) {
		return true
	}
	if err := p.refresh(ctx); err != nil {
		return false
	}
	st = p.cached()
	if st.Rate.Paused(now) {
		return false
	}
	switch st.Circuit.Position() {
	case ims.CircuitClosed:
		return true
	case ims.CircuitHalfOpen:
		return st.ProbeID == m.ID
	}
	return false
}

// observe folds a webhook result into the stored state: provider failures
// toward the circuit, a throttle into a fleet-wide pause. It writes only
// when the result changes something, so a success while all is well costs
// nothing. It returns the state to decide the outcome with.
func (p *provider) observe(ctx context.Context, res ims.DeliveryResult) ims.ProviderState {
	now := p.now()
	st := p.cached()
	throttle := ims.IsThrottle(res)
	if c, _ := st.Circuit.Observe(p.breaker, res, now); c == st.Circuit && !throttle {
		return st
	}
	var (
		change    ims.CircuitChange
		throttled bool
	)
	next, err := p.store.UpdateProviderState(ctx, func(cur ims.ProviderState) (ims.ProviderState, []ims.AuditEvent) {
		var events []ims.AuditEvent
		cur.Circuit, change = cur.Circuit.Observe(p.breaker, res, now)
		if ims.IsProviderFailure(res) {
			// The short reason ("HTTP 401", "connection refused"): the
			// unauthenticated health check shows it, and the full text
			// may name the webhook's address. The attempt keeps the text.
			cur.Circuit.LastError = stats.Reason(res)
		}
		if cur.Circuit.Position() != ims.CircuitHalfOpen {
			cur.ProbeID = ""
		}
		switch change {
		case ims.ChangeOpened:
			events = append(events, ims.AuditEvent{Type: change.EventType(), Actor: p.actor, CreatedAt: now,
				Details: fmt.Sprintf("after %d consecutive provider failures; last error: %s; next probe at %s",
					cur.Circuit.Failures, cur.Circuit.LastError, cur.Circuit.NextProbeAt.UTC().Format(time.RFC3339))})
		case ims.ChangeClosed:
			events = append(events, ims.AuditEvent{Type: change.EventType(), Actor: p.actor, CreatedAt: now,
				Details: "the provider answered " + res.ErrorText() + "; delivery resumes, ramping up"})
		}
		throttled = false
		if throttle {
			wasPaused := cur.Rate.Paused(now)
			cur.Rate = cur.Rate.Throttled(p.rate, res.RetryAfter, now)
			if !wasPaused {
				throttled = true
				detail := fmt.Sprintf("%s: the fleet pauses until %s", res.ErrorText(), cur.Rate.PausedUntil.UTC().Format(time.RFC3339Nano))
				if p.rate.Limit > 0 {
					detail += fmt.Sprintf(", then resumes at %g/s", cur.Rate.Rate)
				}
				events = append(events, ims.AuditEvent{Type: ims.EventThrottled, Actor: p.actor, CreatedAt: now, Details: detail})
			}
		}
		return cur, events
	})
	if err != nil {
		p.log.Warn("store the provider state failed; this result is judged on the last state seen", "err", err)
		st.Circuit, _ = st.Circuit.Observe(p.breaker, res, now)
		if throttle {
			st.Rate = st.Rate.Throttled(p.rate, res.RetryAfter, now)
		}
		return st
	}
	p.set(next)
	p.report(change, throttled, next)
	return next
}

func (p *provider) report(change ims.CircuitChange, throttled bool, st ims.ProviderState) {
	po, _ := p.obs.(ProviderObserver)
	if change != ims.ChangeNone && po != nil {
		po.CircuitChanged(change)
	}
	if throttled && po != nil {
		po.Throttled()
	}
	c := st.Circuit
	switch change {
	case ims.ChangeOpened:
		p.log.Warn("webhook circuit opened: no webhook calls until a probe succeeds; messages wait, spending no retries",
			"failures", c.Failures, "last_error", c.LastError, "next_probe_at", c.NextProbeAt)
	case ims.ChangeClosed:
		p.log.Info("webhook circuit closed: the provider answered; delivery resumes, ramping up", "ramp_until", c.RampUntil)
	case ims.ChangeProbeFailed:
		p.log.Info("webhook circuit probe failed; still open", "last_error", c.LastError, "next_probe_at", c.NextProbeAt)
	}
	if throttled {
		p.log.Warn("webhook throttled by the provider: the fleet pauses", "paused_until", st.Rate.PausedUntil,
			"effective_rate", st.Rate.Rate)
	}
}

// status is the provider's part of SchedulerStatus, from the view.
func (p *provider) status() ims.ProviderStatus {
	now := p.now()
	st := p.cached()
	out := ims.ProviderStatus{
		RateLimit: p.rate.Limit, EffectiveRate: st.Rate.EffectiveRate(p.rate, now), Circuit: st.Circuit.Position(),
	}
	if st.Rate.Paused(now) {
		t := st.Rate.PausedUntil.UTC()
		out.PausedUntil = &t
	}
	if out.Circuit != ims.CircuitClosed {
		t := st.Circuit.OpenedAt.UTC()
		out.CircuitSince, out.LastError = &t, st.Circuit.LastError
	}
	return out
}

// ProviderState is this instance's view of the fleet's circuit and rate
// limiter (refreshed every few hundred milliseconds), for readers that must
// not query the database: the expiry sweeper's reasons, say.
func (s *Scheduler) ProviderState() ims.ProviderState { return s.prov.cached() }
