package ims

import (
	"math"
	"time"
)

// RetryPolicy decides how often and how late a failed delivery is retried.
type RetryPolicy struct {
	// MaxRetries is how many retries follow the first attempt before a
	// message is dead. 0 means one attempt only.
	MaxRetries int
	BaseDelay  time.Duration // delay before the first retry
	MaxDelay   time.Duration // cap on any backoff delay
}

// maxRetryAfter bounds a server's Retry-After so that a bogus header cannot
// park a message for years.
const maxRetryAfter = 24 * time.Hour

// Backoff returns the delay before retry number n (1-based): BaseDelay·2^(n-1),
// capped at MaxDelay, with "equal jitter" — half fixed, half random — so that a
// burst of failures does not retry in lockstep while the delay still grows.
// jitter is a number in [0,1), injected so that tests are deterministic.
func (p RetryPolicy) Backoff(n int, jitter float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(p.BaseDelay) * math.Pow(2, float64(n-1))
	if p.MaxDelay > 0 && d > float64(p.MaxDelay) {
		d = float64(p.MaxDelay)
	}
	if jitter < 0 || jitter >= 1 {
		jitter = 0
	}
	return time.Duration(d/2 + d/2*jitter)
}

// Decision is the transition a delivery result leads to.
type Decision struct {
	Status        Status    // sent, pending (retry) or dead
	NextAttemptAt time.Time // set when Status is pending
	Reason        string    // why, for the audit trail
}

// Decide applies the lifecycle rules to the result of attempt number attempt
// (1-based) made at now.
func (p RetryPolicy) Decide(attempt int, r DeliveryResult, now time.Time, jitter float64) Decision {
	switch {
	case r.Succeeded():
		return Decision{Status: StatusSent, Reason: ReasonDelivered}
	case r.Permanent():
		return Decision{Status: StatusDead, Reason: "permanent failure: " + r.ErrorText()}
	case attempt > p.MaxRetries:
		return Decision{Status: StatusDead, Reason: "retries exhausted after " + itoa(attempt) + " attempts: " + r.ErrorText()}
	}
	delay := p.Backoff(attempt, jitter)
	if r.RetryAfter > 0 && (r.StatusCode == 429 || r.StatusCode == 503) {
		delay = min(r.RetryAfter, maxRetryAfter)
	}
	return Decision{Status: StatusPending, NextAttemptAt: now.Add(delay), Reason: "retry scheduled: " + r.ErrorText()}
}
