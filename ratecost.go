package ims

import "time"

// Charge takes n more units at now than were granted, possibly below zero:
// with WEBHOOK_RATE_UNIT=segments a claim takes one unit per message before
// it knows the messages, and the segments beyond one are charged once it
// does. The debt delays the next grant (Take) until the refill has paid it,
// so over time the fleet keeps to Limit segments per second. With no
// limit it returns s unchanged.
func (s RateState) Charge(p RatePolicy, n int, now time.Time) RateState {
	if p.Limit <= 0 || n <= 0 {
		return s
	}
	s = s.refill(p.WithDefaults(), now)
	s.Tokens -= float64(n)
	return s
}

// ExtraCost is what msgs cost in unit beyond the one unit each claim took:
// 0 for messages, the segments past the first for segments.
func ExtraCost(msgs []Message, unit RateUnit) int {
	if unit != RateUnitSegments {
		return 0
	}
	extra := 0
	for _, m := range msgs {
		extra += m.Cost(unit) - 1
	}
	return extra
}
