package ims_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestDecideOutcome(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := ims.RetryPolicy{MaxRetries: 3, BaseDelay: 2 * time.Second, MaxDelay: time.Minute}
	open := ims.Circuit{State: ims.CircuitOpen, NextProbeAt: now.Add(40 * time.Second)}
	soon := now.Add(30 * time.Second)
	tests := []struct {
		name   string
		r      ims.DeliveryResult
		oc     ims.OutcomeContext
		status ims.Status
		next   time.Duration // from now, when pending
		held   bool
		reason string // substring
	}{
		{"success", ims.DeliveryResult{StatusCode: 202}, ims.OutcomeContext{Attempt: 1}, ims.StatusSent, 0, false, "delivered"},
		{"400 is still permanent", ims.DeliveryResult{StatusCode: 400}, ims.OutcomeContext{Attempt: 1}, ims.StatusDead, 0, false, "permanent"},
		{"408 still spends budget", ims.DeliveryResult{StatusCode: 408}, ims.OutcomeContext{Attempt: 1}, ims.StatusPending, time.Second, false, "retry scheduled"},
		{"408 past the budget is dead", ims.DeliveryResult{StatusCode: 408}, ims.OutcomeContext{Attempt: 4}, ims.StatusDead, 0, false, "retries exhausted"},
		{"held attempts are refunded", ims.DeliveryResult{StatusCode: 408}, ims.OutcomeContext{Attempt: 9, Held: 6}, ims.StatusPending, 4 * time.Second, false, "retry scheduled"},

		{"500 is held, not retried", ims.DeliveryResult{StatusCode: 500}, ims.OutcomeContext{Attempt: 1}, ims.StatusPending, time.Second, true, "held for the provider"},
		{"500 far past the budget is never dead", ims.DeliveryResult{StatusCode: 500}, ims.OutcomeContext{Attempt: 100}, ims.StatusPending, time.Second, true, "held"},
		{"held backoff grows with holds", ims.DeliveryResult{Err: "timeout"}, ims.OutcomeContext{Attempt: 3, Held: 2}, ims.StatusPending, 4 * time.Second, true, "held"},
		{"held backoff is capped", ims.DeliveryResult{Err: "timeout"}, ims.OutcomeContext{Attempt: 50, Held: 49}, ims.StatusPending, 30 * time.Second, true, "held"},
		{"401 waits for the next probe", ims.DeliveryResult{StatusCode: 401}, ims.OutcomeContext{Attempt: 1, Circuit: open}, ims.StatusPending, 40 * time.Second, true, "HTTP 401"},
		{"while open, the probe sets the time, not a long own backoff", ims.DeliveryResult{Err: "timeout"},
			ims.OutcomeContext{Attempt: 50, Held: 49, Circuit: ims.Circuit{State: ims.CircuitOpen, NextProbeAt: now.Add(5 * time.Second)}},
			ims.StatusPending, 5 * time.Second, true, "held"},
		{"429 is held for its Retry-After", ims.DeliveryResult{StatusCode: 429, RetryAfter: 10 * time.Second}, ims.OutcomeContext{Attempt: 4}, ims.StatusPending, 10 * time.Second, true, "held"},
		{"429 without Retry-After: one second", ims.DeliveryResult{StatusCode: 429}, ims.OutcomeContext{Attempt: 4}, ims.StatusPending, time.Second, true, "held"},
		{"429 waits for the fleet's pause", ims.DeliveryResult{StatusCode: 429}, ims.OutcomeContext{Attempt: 1, PausedUntil: soon}, ims.StatusPending, 30 * time.Second, true, "held"},
		{"503 with Retry-After is a throttle", ims.DeliveryResult{StatusCode: 503, RetryAfter: 7 * time.Second}, ims.OutcomeContext{Attempt: 4}, ims.StatusPending, 7 * time.Second, true, "held"},

		{"a retry after the expiry expires", ims.DeliveryResult{StatusCode: 408},
			ims.OutcomeContext{Attempt: 1, ExpiresAt: ptr(now.Add(time.Second))}, ims.StatusExpired, 0, false, "retry_after_expiry"},
		{"a retry before the expiry is kept", ims.DeliveryResult{StatusCode: 408},
			ims.OutcomeContext{Attempt: 1, ExpiresAt: ptr(now.Add(time.Second + time.Nanosecond))}, ims.StatusPending, time.Second, false, "retry scheduled"},
		{"dead stays dead with an expiry", ims.DeliveryResult{StatusCode: 400},
			ims.OutcomeContext{Attempt: 1, ExpiresAt: ptr(now.Add(time.Nanosecond))}, ims.StatusDead, 0, false, "permanent"},
		{"held past the expiry by the circuit", ims.DeliveryResult{StatusCode: 502},
			ims.OutcomeContext{Attempt: 1, Circuit: open, ExpiresAt: ptr(soon)}, ims.StatusExpired, 0, true, "circuit_open"},
		{"held past the expiry by a pause", ims.DeliveryResult{Err: "connection reset"},
			ims.OutcomeContext{Attempt: 1, PausedUntil: soon, ExpiresAt: ptr(now.Add(10 * time.Second))}, ims.StatusExpired, 0, true, "throttled"},
		{"throttled past the expiry", ims.DeliveryResult{StatusCode: 429, RetryAfter: time.Minute},
			ims.OutcomeContext{Attempt: 1, ExpiresAt: ptr(soon)}, ims.StatusExpired, 0, true, "throttled"},
		{"held backoff past the expiry", ims.DeliveryResult{StatusCode: 500},
			ims.OutcomeContext{Attempt: 1, ExpiresAt: ptr(now.Add(time.Second))}, ims.StatusExpired, 0, true, "retry_after_expiry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.oc.Now = now
			d, held := p.DecideOutcome(tt.r, tt.oc)
			require.Equal(t, tt.status, d.Status, d.Reason)
			require.Equal(t, tt.held, held)
			require.Contains(t, d.Reason, tt.reason)
			if tt.status == ims.StatusPending {
				require.Equal(t, now.Add(tt.next), d.NextAttemptAt)
			}
		})
	}
}
