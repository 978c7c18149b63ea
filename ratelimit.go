package ims

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Rate limiter defaults, for the parts WEBHOOK_RATE_LIMIT does not spell out.
const (
	// DefaultThrottlePause is the fleet's pause after a throttle without
	// Retry-After.
	DefaultThrottlePause = time.Second
	// DefaultMaxThrottlePause caps a Retry-After for the fleet: past it one
	// call tries again, and a provider that still means it says so again.
	DefaultMaxThrottlePause = time.Minute
	// DefaultRateDecrease is the multiplicative decrease on a throttle.
	DefaultRateDecrease = 0.5
)

// tokenEpsilon absorbs float rounding, so that 0.5/s for exactly 2 s
// grants the one whole call it should.
const tokenEpsilon = 1e-9

// RatePolicy is the fleet-wide limit (WEBHOOK_RATE_LIMIT,
// WEBHOOK_RATE_BURST) and how it listens to the provider: a throttle cuts
// the rate (multiplicative decrease), time without one brings it back
// (additive increase). Zero fields other than Limit take defaults derived
// from Limit (WithDefaults).
type RatePolicy struct {
	// Limit is calls (or cost units, see Take) per second for the whole
	// fleet; fractional allowed; 0 means no limit.
	Limit float64
	// Burst is how many calls may go at once; default one second's worth,
	// at least one call.
	Burst float64
	// MinRate is the floor of the reduced rate; default Limit/10. Above 0,
	// or a throttled fleet would never call again.
	MinRate float64
	// IncreasePerSecond is the climb back, in calls/s per second; default
	// Limit/30: from half the limit back to all of it in 15 s.
	IncreasePerSecond float64
	// DecreaseFactor multiplies the rate on a throttle; in (0,1), default 0.5.
	DecreaseFactor float64
	// MaxPause caps a provider's Retry-After for the fleet.
	MaxPause time.Duration
}

// WithDefaults fills the zero fields. With no Limit only MaxPause matters:
// a throttle still pauses the fleet.
func (p RatePolicy) WithDefaults() RatePolicy {
	if p.MaxPause == 0 {
		p.MaxPause = DefaultMaxThrottlePause
	}
	if p.Limit <= 0 {
		return p
	}
	if p.Burst == 0 {
		p.Burst = max(p.Limit, 1)
	}
	if p.MinRate == 0 {
		p.MinRate = p.Limit / 10
	}
	if p.IncreasePerSecond == 0 {
		p.IncreasePerSecond = p.Limit / 30
	}
	if p.DecreaseFactor == 0 {
		p.DecreaseFactor = DefaultRateDecrease
	}
	return p
}

// Validate checks a policy after WithDefaults.
func (p RatePolicy) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(p.Limit) || p.Limit < 0:
		return fmt.Errorf("WEBHOOK_RATE_LIMIT must be a number of calls per second, 0 for none, got %v", p.Limit)
	case p.MaxPause <= 0:
		return errors.New("the longest throttle pause must be positive")
	case p.Limit == 0:
		return nil
	case !finite(p.Burst) || p.Burst < 1:
		return fmt.Errorf("WEBHOOK_RATE_BURST must be at least 1 (one call), got %v", p.Burst)
	case !finite(p.MinRate) || p.MinRate <= 0 || p.MinRate > p.Limit:
		return fmt.Errorf("the minimum rate must be above 0 and at most WEBHOOK_RATE_LIMIT, got %v", p.MinRate)
	case !finite(p.IncreasePerSecond) || p.IncreasePerSecond <= 0:
		return errors.New("the rate's additive increase must be positive")
	case !(p.DecreaseFactor > 0 && p.DecreaseFactor < 1):
		return errors.New("the rate's decrease factor must be between 0 and 1")
	}
	return nil
}

// RateState is the fleet-wide token bucket: one row in the database, read
// and written back by compare and swap on Version like Circuit. The zero
// value (nothing stored) is a full bucket at the full rate.
type RateState struct {
	Tokens    float64   `json:"tokens"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Rate is the effective rate, calls/s: Limit, or less after a throttle.
	Rate float64 `json:"rate"`
	// PausedUntil is the end of a throttle pause; no call starts before it.
	PausedUntil time.Time `json:"paused_until,omitzero"`
	Version     int64     `json:"version"`
}

// Paused reports whether a throttle pause holds at now.
func (s RateState) Paused(now time.Time) bool { return now.Before(s.PausedUntil) }

// Take asks for n units at now (n is a cost: calls today, segments when
// WEBHOOK_RATE_UNIT=segments) and grants up to n of them. When granted < n,
// waitUntil is when the next unit is there (the pause's end while paused).
// Nothing is granted while paused. With no limit it grants n and returns s
// unchanged, with no arithmetic and nothing to write back. The caller
// composes the grant with its batch pacing by taking the smaller, and gives
// back what it could not use (Return).
func (s RateState) Take(p RatePolicy, n int, now time.Time) (granted int, next RateState, waitUntil time.Time) {
	if s.Paused(now) {
		return 0, s, s.PausedUntil
	}
	if p.Limit <= 0 {
		return n, s, time.Time{}
	}
	if n <= 0 {
		return 0, s, time.Time{}
	}
	p = p.WithDefaults()
	s = s.refill(p, now)
	// Tokens may be below zero: a debt that Charge left (segments beyond
	// the one unit a claim took), paid back by the refill before more is
	// granted.
	granted = min(n, max(int(math.Floor(s.Tokens+tokenEpsilon)), 0))
	if granted > 0 {
		s.Tokens = max(s.Tokens-float64(granted), 0)
	}
	if granted < n {
		missing := 1 - s.Tokens
		waitUntil = now.Add(time.Duration(math.Ceil(missing / s.Rate * float64(time.Second))))
	}
	return granted, s, waitUntil
}

// refill brings the bucket to now: tokens at the effective rate, capped at
// Burst, and the rate climbing back toward Limit. Instances' clocks differ,
// so a now before UpdatedAt counts as no time passed rather than draining.
func (s RateState) refill(p RatePolicy, now time.Time) RateState {
	if s.UpdatedAt.IsZero() {
		s.Tokens, s.UpdatedAt = p.Burst, now
	}
	if s.Rate <= 0 {
		s.Rate = p.Limit
	}
	if dt := now.Sub(s.UpdatedAt).Seconds(); dt > 0 {
		s.Tokens += s.Rate * dt
		s.Rate += p.IncreasePerSecond * dt
		s.UpdatedAt = now
	}
	s.Tokens = min(s.Tokens, p.Burst)
	s.Rate = min(max(s.Rate, p.MinRate), p.Limit) // also follows a changed setting
	return s
}

// Return gives back n units taken but not used (fewer messages were due
// than granted), so the limiter does not under-deliver.
func (s RateState) Return(p RatePolicy, n int) RateState {
	if p.Limit <= 0 || n <= 0 {
		return s
	}
	s.Tokens = min(s.Tokens+float64(n), p.WithDefaults().Burst)
	return s
}

// Throttled applies a throttle (429, or 503 with Retry-After) answered at
// now: the whole fleet pauses for retryAfter (DefaultThrottlePause when
// absent, capped at MaxPause), then resumes with one call and a reduced rate.
// Calls in flight together tend to be throttled together; only the first
// throttle of a pause cuts the rate, the later ones may only lengthen it,
// or one burst would collapse the rate to MinRate.
func (s RateState) Throttled(p RatePolicy, retryAfter time.Duration, now time.Time) RateState {
	p = p.WithDefaults()
	pause := retryAfter
	if pause <= 0 {
		pause = DefaultThrottlePause
	}
	until := now.Add(min(pause, p.MaxPause))
	wasPaused := s.Paused(now)
	if until.After(s.PausedUntil) {
		s.PausedUntil = until
	}
	if p.Limit > 0 {
		s = s.refill(p, now)
		if !wasPaused {
			s.Rate = max(s.Rate*p.DecreaseFactor, p.MinRate)
		}
		// One call at the pause's end, the reduced rate after it; no
		// tokens pile up during the pause.
		s.Tokens, s.UpdatedAt = min(1, p.Burst), s.PausedUntil
	}
	return s
}

// EffectiveRate is the rate calls may start at, at now, for GET
// /api/control, health and metrics: 0 while paused, and 0 with no limit,
// which the API shows beside rate_limit 0 as "none".
func (s RateState) EffectiveRate(p RatePolicy, now time.Time) float64 {
	if p.Limit <= 0 || s.Paused(now) {
		return 0
	}
	return s.refill(p.WithDefaults(), now).Rate
}
