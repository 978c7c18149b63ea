package ims

import (
	"fmt"
	"time"
)

// ExpiryReason says why a message expired, in its message.expired event.
type ExpiryReason string

const (
	// ExpiryStopped: it waited while the scheduler was stopped.
	ExpiryStopped ExpiryReason = "stopped"
	// ExpiryCircuitOpen: it was held while the provider was down.
	ExpiryCircuitOpen ExpiryReason = "circuit_open"
	// ExpiryThrottled: it was held while the provider throttled the fleet.
	ExpiryThrottled ExpiryReason = "throttled"
	// ExpiryRetryAfterExpiry: its next retry would have fallen after it.
	ExpiryRetryAfterExpiry ExpiryReason = "retry_after_expiry"
	// ExpiryQuietHours: quiet hours held it past its expiry.
	ExpiryQuietHours ExpiryReason = "quiet_hours"
	// ExpiryBacklog: it was due but waited behind others (pacing, rate
	// limit, priorities) until it was too late.
	ExpiryBacklog ExpiryReason = "backlog"
)

// MaxTTL bounds ttl_seconds: ten years is past any text's useful life, and
// the bound keeps the time arithmetic far from overflow and the result
// inside the years both stores keep.
const MaxTTL = 10 * 365 * 24 * time.Hour

// ResolveExpiry turns a create request's ttl_seconds or expires_at (never
// both), or else the MESSAGE_TTL default, into the message's expiry, or
// reports problems keyed by field. nil means the message never expires.
//
// A TTL, given or default, counts from when the message is due: send_at, or
// now when send_at is absent or already past (a past send_at means now, see
// SendAtPastTolerance). So a TTL reads "may wait this long", and a
// scheduled message is never born expired. expires_at is absolute: it must
// lie ahead of now and after send_at. The result is UTC at microsecond
// precision, the form both stores keep.
func ResolveExpiry(ttlSeconds *int64, expiresAt *string, sendAt *time.Time, defaultTTL time.Duration, now time.Time) (*time.Time, map[string]string) {
	hasTTL, hasAt := ttlSeconds != nil, expiresAt != nil && *expiresAt != ""
	due := now
	if sendAt != nil && sendAt.After(now) {
		due = *sendAt
	}
	var exp time.Time
	switch {
	case hasTTL && hasAt:
		return nil, map[string]string{"ttl_seconds": "must not be given together with expires_at: give one of them"}
	case hasTTL:
		if *ttlSeconds <= 0 || *ttlSeconds > int64(MaxTTL/time.Second) {
			return nil, map[string]string{"ttl_seconds": fmt.Sprintf("must be a whole number of seconds from 1 to %d", int64(MaxTTL/time.Second))}
		}
		exp = due.Add(time.Duration(*ttlSeconds) * time.Second)
	case hasAt:
		t, err := time.Parse(time.RFC3339, *expiresAt)
		if err != nil {
			return nil, map[string]string{"expires_at": "must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z"}
		}
		exp = t.UTC().Truncate(time.Microsecond)
		if !exp.After(now) {
			return nil, map[string]string{"expires_at": "must be in the future (now is " + now.UTC().Format(time.RFC3339) + ")"}
		}
		if sendAt != nil && !sendAt.Before(exp) {
			return nil, map[string]string{"expires_at": "must be after send_at (" + sendAt.UTC().Format(time.RFC3339) + ")"}
		}
	case defaultTTL > 0:
		exp = due.Add(min(defaultTTL, MaxTTL)) // config rejects more; this only guards the arithmetic
	default:
		return nil, nil
	}
	exp = exp.UTC().Truncate(time.Microsecond)
	return &exp, nil
}

// Expired reports whether a message with expiresAt may no longer be sent
// at now. At the instant of expiry it may not: "by its expiry" excludes
// it. Claims skip such messages; a sweep moves them to expired.
func Expired(expiresAt *time.Time, now time.Time) bool {
	return expiresAt != nil && !now.Before(*expiresAt)
}

// ExpireInsteadOfRetry reports whether a retry (or a hold) planned for
// nextAttempt would come too late: the message expires now instead of
// waiting for an attempt that may not be made.
func ExpireInsteadOfRetry(expiresAt *time.Time, nextAttempt time.Time) bool {
	return Expired(expiresAt, nextAttempt)
}

// ExpiryReasonFor is why a pending message found past its expiry (by the
// sweep) expired, judged from what held the fleet at that moment, the
// strongest cause first.
func ExpiryReasonFor(schedulerRunning bool, c Circuit, r RateState, now time.Time) ExpiryReason {
	switch {
	case !schedulerRunning:
		return ExpiryStopped
	case c.Position() != CircuitClosed:
		return ExpiryCircuitOpen
	case r.Paused(now):
		return ExpiryThrottled
	}
	return ExpiryBacklog
}

// ExpiredDecision is the transition to expired, for the outcome path and
// the sweep alike; the reason goes to the message.expired event.
func ExpiredDecision(why ExpiryReason) Decision {
	return Decision{Status: StatusExpired, Reason: "expired: " + string(why)}
}

// ReplayWithExpiryDetails is the audit text of a replay with a new expiry.
func ReplayWithExpiryDetails(expiresAt time.Time) string {
	return "new expires_at " + expiresAt.UTC().Format(time.RFC3339Nano)
}

// ReplayInput is the body of a replay of one message: a new expiry, which
// an expired message needs (its old one has passed) and a dead one may be
// given. Both fields absent is a plain replay of a dead letter.
type ReplayInput struct {
	TTLSeconds *int64  `json:"ttl_seconds,omitempty"`
	ExpiresAt  *string `json:"expires_at,omitempty"`
}

// Validate resolves the new expiry, a TTL counting from now (nil when none
// is given), or reports EINVALID with the problems by field.
func (in ReplayInput) Validate(now time.Time) (*time.Time, error) {
	exp, problems := ResolveExpiry(in.TTLSeconds, in.ExpiresAt, nil, 0, now)
	if len(problems) > 0 {
		return nil, &Error{Code: EINVALID, Message: "invalid replay", Details: problems}
	}
	return exp, nil
}

// ReplayNeedsExpiry is the ECONFLICT of replaying an expired message
// without a new expiry: it would expire again at once.
func ReplayNeedsExpiry() error {
	return Errorf(ECONFLICT, `message is expired, it can only be replayed with a new expiry: give {"ttl_seconds": N} or {"expires_at": "<RFC 3339>"}`)
}
