package ims

import "time"

// Outcome is a decided delivery, ready to be stored with its attempt record.
type Outcome struct {
	Claim    Claim
	Result   DeliveryResult
	Decision Decision
	At       time.Time
	// Held refunds the attempt: the store adds one to the message's Held
	// (DecideOutcome's held).
	Held bool
}

// OutcomeContext is what an outcome decision needs besides the result: the
// message's counters and expiry, and what holds the fleet back.
type OutcomeContext struct {
	// Attempt is Message.Attempts: claims so far, this one included. It
	// stays the fencing token and only ever grows.
	Attempt int
	// Held is how many earlier attempts were held for the provider, i.e.
	// refunded: the retry budget spent is Attempt-Held.
	Held      int
	ExpiresAt *time.Time
	// Circuit is the breaker after this result was observed, and
	// PausedUntil the limiter's pause after any throttle it caused: a held
	// message is due again no earlier than the pause, and at the next probe
	// while the circuit is not closed.
	Circuit     Circuit
	PausedUntil time.Time
	Now         time.Time
	Jitter      float64 // [0,1), as for Backoff
}

// DecideOutcome is RetryPolicy.Decide with the provider and the expiry
// taken into account; the delivery pipeline calls it instead of Decide.
//
// A result HoldForProvider sends the message back to pending with its
// attempt refunded (held=true: the store adds one to the message's held
// count): due after its own backoff (or the Retry-After of a throttle) and
// no earlier than the fleet's pause; while the circuit is not closed, at
// its next probe. Refunding at once, rather than judging attempts once the
// circuit has closed, keeps the rule local to one result: the failures in the run-up to an opening
// leave no trace on the budget, and nothing needs revisiting after it. The
// backoff still grows with Held, so a message the provider always answers
// with a 5xx while others go through does not spin; it waits at
// MaxDelay, bounded by its expiry (MESSAGE_TTL), never dead-lettered.
//
// Any other result is judged by Decide on the budget spent. A retry or a
// hold that would fall at or after the expiry expires instead.
func (p RetryPolicy) DecideOutcome(r DeliveryResult, oc OutcomeContext) (d Decision, held bool) {
	if !HoldForProvider(r) {
		d = p.Decide(oc.Attempt-oc.Held, r, oc.Now, oc.Jitter)
		if d.Status == StatusPending && ExpireInsteadOfRetry(oc.ExpiresAt, d.NextAttemptAt) {
			return ExpiredDecision(ExpiryRetryAfterExpiry), false
		}
		return d, false
	}
	delay, why := p.Backoff(oc.Held+1, oc.Jitter), ExpiryRetryAfterExpiry
	if IsThrottle(r) {
		delay, why = DefaultThrottlePause, ExpiryThrottled
		if r.RetryAfter > 0 {
			delay = min(r.RetryAfter, maxRetryAfter)
		}
	}
	next := oc.Now.Add(delay)
	// While the circuit is not closed its probes set the pace: a held
	// message is due at the next one, even when its own backoff is longer.
	// The backoff grew with the outage's holds (the probe message is held
	// once per failed probe), and would otherwise keep the message waiting
	// long after the provider is back. A throttle's longer Retry-After
	// still stands.
	if h := oc.Circuit.HoldUntil(); !h.IsZero() && (h.After(next) || !IsThrottle(r)) {
		next, why = h, ExpiryCircuitOpen
	}
	if oc.PausedUntil.After(next) {
		next, why = oc.PausedUntil, ExpiryThrottled
	}
	if ExpireInsteadOfRetry(oc.ExpiresAt, next) {
		return ExpiredDecision(why), true
	}
	return Decision{Status: StatusPending, NextAttemptAt: next, Reason: "held for the provider: " + r.ErrorText()}, true
}
