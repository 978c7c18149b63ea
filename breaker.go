package ims

import (
	"errors"
	"fmt"
	"time"
)

// CircuitState is the fleet-wide circuit breaker's position.
//
//	closed ──Threshold consecutive provider failures──▶ open
//	open ──NextProbeAt reached, one caller wins──▶ half_open (one probe in flight)
//	half_open ──probe answered──▶ closed (ramping up)
//	half_open ──probe failed──▶ open (probe delay doubled, capped)
type CircuitState string

const (
	CircuitClosed   CircuitState = "closed"
	CircuitOpen     CircuitState = "open"
	CircuitHalfOpen CircuitState = "half_open"
)

// Valid reports whether s is a known state. "" is valid: it is the zero
// Circuit, read as closed, so a database with no stored row calls freely.
func (s CircuitState) Valid() bool {
	switch s {
	case "", CircuitClosed, CircuitOpen, CircuitHalfOpen:
		return true
	}
	return false
}

// Breaker defaults: the settings WEBHOOK_BREAKER_THRESHOLD and
// WEBHOOK_BREAKER_PROBE, and the bounds they grow within.
const (
	DefaultBreakerThreshold  = 20
	DefaultBreakerProbe      = 5 * time.Second
	DefaultBreakerMaxProbe   = 2 * time.Minute
	DefaultBreakerRamp       = 30 * time.Second
	DefaultBreakerProbeLease = 45 * time.Second
)

// rampFloor is the share of the normal pace allowed the instant the circuit
// closes: a recovering provider gets some traffic at once (the probe proved
// it answers), but not the whole backlog in one go.
const rampFloor = 0.1

// BreakerPolicy is how the breaker reacts. Zero fields take the defaults
// (WithDefaults), so a Config only sets what the operator set.
type BreakerPolicy struct {
	// Threshold is how many consecutive provider failures, fleet-wide,
	// open the circuit.
	Threshold int
	// FirstProbe is the wait from opening to the first probe; each failed
	// probe doubles it, up to MaxProbe.
	FirstProbe, MaxProbe time.Duration
	// Ramp is how long after closing the pace takes to climb back from
	// rampFloor to full (RampFraction).
	Ramp time.Duration
	// ProbeLease is how long a probe may stay unanswered before another
	// caller may probe: the prober may have crashed. It must outlast the
	// webhook timeout, or a slow probe gets company; wire it to the claim
	// lease.
	ProbeLease time.Duration
}

// WithDefaults fills the zero fields with the defaults.
func (p BreakerPolicy) WithDefaults() BreakerPolicy {
	if p.Threshold == 0 {
		p.Threshold = DefaultBreakerThreshold
	}
	if p.FirstProbe == 0 {
		p.FirstProbe = DefaultBreakerProbe
	}
	if p.MaxProbe == 0 {
		p.MaxProbe = max(DefaultBreakerMaxProbe, p.FirstProbe)
	}
	if p.Ramp == 0 {
		p.Ramp = DefaultBreakerRamp
	}
	if p.ProbeLease == 0 {
		p.ProbeLease = DefaultBreakerProbeLease
	}
	return p
}

// Validate checks a policy after WithDefaults, naming the setting at fault
// the way config errors do.
func (p BreakerPolicy) Validate() error {
	switch {
	case p.Threshold < 1:
		return fmt.Errorf("WEBHOOK_BREAKER_THRESHOLD must be at least 1, got %d", p.Threshold)
	case p.FirstProbe <= 0:
		return fmt.Errorf("WEBHOOK_BREAKER_PROBE must be a positive duration, got %s", p.FirstProbe)
	case p.MaxProbe < p.FirstProbe:
		return errors.New("the breaker's maximum probe delay must be at least WEBHOOK_BREAKER_PROBE")
	case p.Ramp < 0 || p.ProbeLease <= 0:
		return errors.New("the breaker's ramp must not be negative and its probe lease must be positive")
	}
	return nil
}

// Circuit is the fleet-wide breaker: one row in the database, so that every
// instance obeys it and a restart keeps it. Its methods are pure
// transitions; the store writes a result back only if Version is still the
// one it read (compare and swap), with Version+1.
type Circuit struct {
	State CircuitState `json:"state"`
	// Failures counts consecutive provider failures, fleet-wide.
	Failures int `json:"failures"`
	// OpenedAt is when the outage began (the health check's "since"); failed
	// probes keep it.
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// NextProbeAt is when a probe may go (open), or when an unanswered probe
	// is given up (half_open).
	NextProbeAt time.Time     `json:"next_probe_at,omitzero"`
	ProbeDelay  time.Duration `json:"probe_delay_ns,omitempty"`
	// LastError is the last provider failure (ErrorText), for the audit
	// event and the health check's detail.
	LastError string `json:"last_error,omitempty"`
	// ClosedAt and RampUntil bound the ramp after a recovery.
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	RampUntil time.Time `json:"ramp_until,omitzero"`
	Version   int64     `json:"version"`
}

// CircuitChange is what Observe did to the circuit, for the audit trail and
// the log.
type CircuitChange string

const (
	ChangeNone CircuitChange = ""
	// ChangeOpened: the threshold was reached. Audit webhook.circuit_opened
	// with LastError, log at warn.
	ChangeOpened CircuitChange = "opened"
	// ChangeClosed: the provider answered. Audit webhook.circuit_closed, log
	// at info.
	ChangeClosed CircuitChange = "closed"
	// ChangeProbeFailed: still down, the next probe is later. Not a change of
	// the outage as an operator sees it: log at info, no audit event, or a
	// two-minute probe would write one every two minutes for hours.
	ChangeProbeFailed CircuitChange = "probe_failed"
)

// EventType is the audit event type for the change, "" when none is due.
func (c CircuitChange) EventType() string {
	switch c {
	case ChangeOpened:
		return EventCircuitOpened
	case ChangeClosed:
		return EventCircuitClosed
	}
	return ""
}

// IsProviderFailure reports whether r is about the provider, or IMS's
// standing with it, rather than about the message: no answer at all
// (connection refused or reset, DNS, timeout — Err is only set when no
// answer arrived), a 5xx, or a 401/403 (IMS's key was refused). Any message
// would have failed the same way, so such failures count toward the
// circuit and never toward the message's retry budget. A throttle (429, or
// 503 with Retry-After) is not one: the provider is up and asks for less
// traffic, which is the rate limiter's business (IsThrottle).
func IsProviderFailure(r DeliveryResult) bool {
	if r.Err != "" {
		return true
	}
	if IsThrottle(r) {
		return false
	}
	return r.StatusCode >= 500 || r.StatusCode == 401 || r.StatusCode == 403
}

// IsThrottle reports whether r asks the fleet to slow down: a 429, or a 503
// that says when to come back.
func IsThrottle(r DeliveryResult) bool {
	return r.Err == "" && (r.StatusCode == 429 || (r.StatusCode == 503 && r.RetryAfter > 0))
}

// HoldForProvider reports whether the message must go back to pending with
// its attempt refunded: the result says nothing about the message, so it
// must not bring the message closer to dead however long the outage or the
// throttling lasts. DecideOutcome applies it.
func HoldForProvider(r DeliveryResult) bool {
	return IsProviderFailure(r) || IsThrottle(r)
}

// Position is the state to act on and to show (GET /api/control's "circuit"):
// State, with nothing stored read as closed.
func (c Circuit) Position() CircuitState {
	if c.State == "" {
		return CircuitClosed
	}
	return c.State
}

// Observe folds one delivery result into the circuit. It returns c itself
// (==) when nothing changed, which is the case for every success while all
// is well, so the hot path writes nothing to the database.
//
// Any answer that is not a provider failure proves the provider reachable
// and IMS's key accepted, so it closes the circuit from any state: the
// probe's answer, or a call that was in flight when the circuit opened.
// Results of such late calls may also fail a half-open circuit before its
// probe answers; that only doubles the probe delay, and the probe's success
// still closes it.
func (c Circuit) Observe(p BreakerPolicy, r DeliveryResult, now time.Time) (Circuit, CircuitChange) {
	p = p.WithDefaults()
	if !IsProviderFailure(r) {
		if c.Position() == CircuitClosed {
			if c.Failures == 0 && c.LastError == "" {
				return c, ChangeNone
			}
			c.Failures, c.LastError = 0, ""
			return c, ChangeNone
		}
		c.State, c.Failures, c.LastError = CircuitClosed, 0, ""
		c.NextProbeAt, c.ProbeDelay = time.Time{}, 0
		c.ClosedAt, c.RampUntil = now, now.Add(p.Ramp)
		return c, ChangeClosed
	}
	c.Failures++
	c.LastError = r.ErrorText()
	switch c.Position() {
	case CircuitClosed:
		if c.Failures < p.Threshold {
			return c, ChangeNone
		}
		c.State, c.OpenedAt = CircuitOpen, now
		c.ProbeDelay = p.FirstProbe
		c.NextProbeAt = now.Add(c.ProbeDelay)
		c.ClosedAt, c.RampUntil = time.Time{}, time.Time{}
		return c, ChangeOpened
	case CircuitHalfOpen:
		c.State = CircuitOpen
		c.ProbeDelay = min(max(2*c.ProbeDelay, p.FirstProbe), p.MaxProbe)
		c.NextProbeAt = now.Add(c.ProbeDelay)
		return c, ChangeProbeFailed
	}
	// Open: a late answer from a call started before the opening. The
	// schedule of probes stays as it is.
	return c, ChangeNone
}

// MayCall says whether a caller may start a webhook call now, and whether
// that call is the probe. When probe is true, next (half_open) must be
// stored by compare and swap before the call: the one instance whose write
// wins sends the probe, the others saw a version conflict and send nothing.
// A half-open circuit allows no call until the probe is answered, or until
// ProbeLease has passed without an answer (the prober died).
func (c Circuit) MayCall(p BreakerPolicy, now time.Time) (allowed, probe bool, next Circuit) {
	switch c.Position() {
	case CircuitClosed:
		return true, false, c
	case CircuitOpen, CircuitHalfOpen:
		if now.Before(c.NextProbeAt) {
			return false, false, c
		}
		c.State = CircuitHalfOpen
		c.NextProbeAt = now.Add(p.WithDefaults().ProbeLease)
		return true, true, c
	}
	// An unknown stored state: stop rather than guess, the operator sees it
	// in the health check.
	return false, false, c
}

// RampFraction is the share of the normal pace (batch size, rate) allowed
// at now: 0 while the circuit is not closed (only the probe goes), rising
// linearly from rampFloor at closing to 1 at RampUntil, 1 afterwards. Round
// a scaled batch up, so at least one message goes.
func (c Circuit) RampFraction(now time.Time) float64 {
	if c.Position() != CircuitClosed {
		return 0
	}
	if !now.Before(c.RampUntil) || !c.RampUntil.After(c.ClosedAt) {
		return 1
	}
	done := float64(now.Sub(c.ClosedAt)) / float64(c.RampUntil.Sub(c.ClosedAt))
	return rampFloor + (1-rampFloor)*max(done, 0)
}

// HoldUntil is when messages held for the provider may be due again: the
// next probe while the circuit is not closed, zero (no constraint) when it
// is closed.
func (c Circuit) HoldUntil() time.Time {
	if c.Position() == CircuitClosed {
		return time.Time{}
	}
	return c.NextProbeAt
}
