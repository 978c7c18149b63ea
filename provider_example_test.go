package ims_test

import (
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// An outage as the pipeline sees it: failures open the circuit, the held
// message spends no budget, the probe's success closes the circuit and
// the pace ramps back up.
func ExampleCircuit_Observe() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	breaker := ims.BreakerPolicy{Threshold: 2, Ramp: 10 * time.Second}
	retry := ims.RetryPolicy{MaxRetries: 3, BaseDelay: time.Second, MaxDelay: time.Minute}
	var c ims.Circuit

	down := ims.DeliveryResult{Err: "dial tcp 10.0.0.1:443: connection refused"}
	for range 2 {
		var change ims.CircuitChange
		c, change = c.Observe(breaker, down, now)
		if e := change.EventType(); e != "" {
			fmt.Println(e, "-", c.LastError)
		}
	}
	d, held := retry.DecideOutcome(down, ims.OutcomeContext{Attempt: 7, Circuit: c, Now: now})
	fmt.Println(d.Status, "held:", held, "due at the probe:", d.NextAttemptAt.Equal(c.NextProbeAt))

	allowed, _, _ := c.MayCall(breaker, now.Add(time.Second))
	fmt.Println("call before the probe time:", allowed)
	_, probe, c := c.MayCall(breaker, c.NextProbeAt)
	fmt.Println("probe:", probe, c.State)

	c, change := c.Observe(breaker, ims.DeliveryResult{StatusCode: 202}, now.Add(5*time.Second))
	fmt.Println(change.EventType(), c.RampFraction(now.Add(5*time.Second)), c.RampFraction(now.Add(time.Minute)))
	// Output:
	// webhook.circuit_opened - dial tcp 10.0.0.1:443: connection refused
	// pending held: true due at the probe: true
	// call before the probe time: false
	// probe: true half_open
	// webhook.circuit_closed 0.1 1
}

// A fleet limited to 2 calls/s is throttled by the provider: it pauses for
// the Retry-After, resumes with one call, then at half the rate.
func ExampleRateState_Throttled() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := ims.RatePolicy{Limit: 2}
	var s ims.RateState

	granted, s, _ := s.Take(p, 5, now)
	fmt.Println("granted", granted, "of 5")

	s = s.Throttled(p, 3*time.Second, now)
	granted, _, wait := s.Take(p, 1, now.Add(time.Second))
	fmt.Println("paused: granted", granted, "until", wait.Sub(now))

	granted, _, wait = s.Take(p, 5, s.PausedUntil)
	fmt.Println("resumed: granted", granted, "rate", s.EffectiveRate(p, s.PausedUntil), "next in", wait.Sub(s.PausedUntil))
	// Output:
	// granted 2 of 5
	// paused: granted 0 until 3s
	// resumed: granted 1 rate 1 next in 1s
}
