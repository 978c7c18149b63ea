package ims

import (
	"math"
	"strconv"
	"time"
)

// DeliveryResult is what one webhook call produced. Exactly one of StatusCode
// (an HTTP answer arrived) or Err (no answer: network error, timeout) is set.
type DeliveryResult struct {
	StatusCode        int
	ProviderMessageID string
	Latency           time.Duration
	// Err describes a failure to get an answer. Never contains secrets.
	Err string
	// Response is a bounded snippet of the answer body.
	Response string
	// RetryAfter is the server's Retry-After on 429/503, zero when absent.
	RetryAfter time.Duration
}

// Succeeded reports whether the webhook accepted the message (any 2xx).
func (r DeliveryResult) Succeeded() bool {
	return r.Err == "" && r.StatusCode >= 200 && r.StatusCode < 300
}

// Permanent reports whether the failure can never succeed by retrying: a 4xx
// other than 408 (timeout), 425 (too early) and 429 (rate limited).
func (r DeliveryResult) Permanent() bool {
	if r.Err != "" || r.StatusCode < 400 || r.StatusCode >= 500 {
		return false
	}
	switch r.StatusCode {
	case 408, 425, 429:
		return false
	}
	return true
}

// ErrorText summarises a failed result for Message.LastError.
func (r DeliveryResult) ErrorText() string {
	if r.Err != "" {
		return r.Err
	}
	if r.Succeeded() {
		return ""
	}
	return "webhook answered HTTP " + itoa(r.StatusCode)
}

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

func itoa(n int) string { return strconv.Itoa(n) }
