package ims_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestIsProviderFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		r        ims.DeliveryResult
		provider bool
		throttle bool
	}{
		{"connection refused", ims.DeliveryResult{Err: "dial tcp: connection refused"}, true, false},
		{"timeout", ims.DeliveryResult{Err: "timeout after 30s"}, true, false},
		{"500", ims.DeliveryResult{StatusCode: 500}, true, false},
		{"502", ims.DeliveryResult{StatusCode: 502}, true, false},
		{"503 without Retry-After", ims.DeliveryResult{StatusCode: 503}, true, false},
		{"503 with Retry-After throttles", ims.DeliveryResult{StatusCode: 503, RetryAfter: time.Second}, false, true},
		{"401 is IMS's key", ims.DeliveryResult{StatusCode: 401}, true, false},
		{"403 is IMS's key", ims.DeliveryResult{StatusCode: 403}, true, false},
		{"429 throttles", ims.DeliveryResult{StatusCode: 429}, false, true},
		{"400 is the message", ims.DeliveryResult{StatusCode: 400}, false, false},
		{"404 is the message", ims.DeliveryResult{StatusCode: 404}, false, false},
		{"408 is the message", ims.DeliveryResult{StatusCode: 408}, false, false},
		{"425 is the message", ims.DeliveryResult{StatusCode: 425}, false, false},
		{"302 is the message", ims.DeliveryResult{StatusCode: 302}, false, false},
		{"202 is success", ims.DeliveryResult{StatusCode: 202}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.provider, ims.IsProviderFailure(tt.r))
			require.Equal(t, tt.throttle, ims.IsThrottle(tt.r))
			require.Equal(t, tt.provider || tt.throttle, ims.HoldForProvider(tt.r))
		})
	}
}

func TestBreakerPolicyDefaultsAndValidate(t *testing.T) {
	t.Parallel()
	p := ims.BreakerPolicy{}.WithDefaults()
	require.Equal(t, ims.BreakerPolicy{Threshold: 20, FirstProbe: 5 * time.Second, MaxProbe: 2 * time.Minute,
		Ramp: 30 * time.Second, ProbeLease: 45 * time.Second}, p)
	require.NoError(t, p.Validate())
	require.Equal(t, 10*time.Minute, ims.BreakerPolicy{FirstProbe: 10 * time.Minute}.WithDefaults().MaxProbe,
		"a first probe above the default cap raises the cap")

	bad := []struct {
		name string
		p    ims.BreakerPolicy
	}{
		{"negative threshold", ims.BreakerPolicy{Threshold: -1}},
		{"negative probe", ims.BreakerPolicy{FirstProbe: -time.Second}},
		{"cap below first probe", ims.BreakerPolicy{FirstProbe: time.Minute, MaxProbe: time.Second}},
		{"negative ramp", ims.BreakerPolicy{Ramp: -time.Second}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Error(t, tt.p.WithDefaults().Validate())
		})
	}
}

// failures folds n provider failures, one second apart, into c.
func failures(c ims.Circuit, p ims.BreakerPolicy, n int, from time.Time) (ims.Circuit, []ims.CircuitChange) {
	var changes []ims.CircuitChange
	for i := range n {
		var ch ims.CircuitChange
		c, ch = c.Observe(p, ims.DeliveryResult{StatusCode: 500}, from.Add(time.Duration(i)*time.Second))
		changes = append(changes, ch)
	}
	return c, changes
}

func TestCircuitOpensAtThreshold(t *testing.T) {
	t.Parallel()
	p := ims.BreakerPolicy{Threshold: 3}
	tests := []struct {
		name  string
		n     int
		state ims.CircuitState
	}{
		{"one below the threshold stays closed", 2, ""},
		{"exactly the threshold opens", 3, ims.CircuitOpen},
		{"more after opening stays open", 5, ims.CircuitOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, changes := failures(ims.Circuit{}, p, tt.n, t0)
			require.Equal(t, tt.state, c.State)
			require.Equal(t, tt.n, c.Failures)
			require.Equal(t, "webhook answered HTTP 500", c.LastError)
			opened := 0
			for _, ch := range changes {
				if ch == ims.ChangeOpened {
					opened++
				}
			}
			if tt.state == ims.CircuitOpen {
				require.Equal(t, 1, opened, "opened once, by the failure that reached the threshold")
				require.Equal(t, ims.ChangeOpened, changes[2])
				opening := t0.Add(2 * time.Second)
				require.Equal(t, opening, c.OpenedAt)
				require.Equal(t, opening.Add(ims.DefaultBreakerProbe), c.NextProbeAt, "late failures do not push the probe back")
			} else {
				require.Zero(t, opened)
			}
		})
	}
}

func TestCircuitSuccessResetsTheCount(t *testing.T) {
	t.Parallel()
	p := ims.BreakerPolicy{Threshold: 3}
	c, _ := failures(ims.Circuit{}, p, 2, t0)
	c, ch := c.Observe(p, ims.DeliveryResult{StatusCode: 202}, t0)
	require.Equal(t, ims.ChangeNone, ch)
	require.Zero(t, c.Failures)
	require.Empty(t, c.LastError)
	c, _ = failures(c, p, 2, t0)
	require.NotEqual(t, ims.CircuitOpen, c.State, "only consecutive failures count")

	t.Run("message-level failures prove the provider up", func(t *testing.T) {
		t.Parallel()
		c, _ := failures(ims.Circuit{}, p, 2, t0)
		c, _ = c.Observe(p, ims.DeliveryResult{StatusCode: 400}, t0)
		require.Zero(t, c.Failures)
	})
	t.Run("an all-well success changes nothing, so nothing is written", func(t *testing.T) {
		t.Parallel()
		c := ims.Circuit{State: ims.CircuitClosed, Version: 7}
		next, ch := c.Observe(p, ims.DeliveryResult{StatusCode: 202}, t0)
		require.Equal(t, ims.ChangeNone, ch)
		require.True(t, next == c)
	})
}

func TestCircuitMayCall(t *testing.T) {
	t.Parallel()
	p := ims.BreakerPolicy{Threshold: 1}
	open, _ := ims.Circuit{}.Observe(p, ims.DeliveryResult{Err: "connection reset"}, t0)
	probeAt := t0.Add(ims.DefaultBreakerProbe)

	tests := []struct {
		name    string
		c       ims.Circuit
		now     time.Time
		allowed bool
		probe   bool
	}{
		{"nothing stored: closed", ims.Circuit{}, t0, true, false},
		{"closed", ims.Circuit{State: ims.CircuitClosed}, t0, true, false},
		{"open before the probe time", open, probeAt.Add(-time.Nanosecond), false, false},
		{"open at the probe time", open, probeAt, true, true},
		{"unknown state stops", ims.Circuit{State: "bogus"}, t0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			allowed, probe, _ := tt.c.MayCall(p, tt.now)
			if tt.c.State == "" {
				require.Equal(t, ims.CircuitClosed, tt.c.Position(), "nothing stored reads as closed")
			}
			require.Equal(t, tt.allowed, allowed)
			require.Equal(t, tt.probe, probe)
		})
	}

	t.Run("one probe at a time until its lease runs out", func(t *testing.T) {
		t.Parallel()
		_, probe, half := open.MayCall(p, probeAt)
		require.True(t, probe)
		require.Equal(t, ims.CircuitHalfOpen, half.State)
		allowed, _, same := half.MayCall(p, probeAt.Add(time.Second))
		require.False(t, allowed, "half open: wait for the probe")
		require.True(t, same == half)
		allowed, probe, _ = half.MayCall(p, probeAt.Add(ims.DefaultBreakerProbeLease))
		require.True(t, allowed && probe, "the prober died: probe again")
	})
}

func TestCircuitProbeOutcomes(t *testing.T) {
	t.Parallel()
	p := ims.BreakerPolicy{Threshold: 1, FirstProbe: 5 * time.Second, MaxProbe: 30 * time.Second}
	c, _ := ims.Circuit{}.Observe(p, ims.DeliveryResult{StatusCode: 401}, t0)
	require.Equal(t, "webhook answered HTTP 401", c.LastError)

	// Each failed probe doubles the delay: 10s, 20s, then capped at 30s.
	now := t0
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second} {
		now = c.NextProbeAt
		var probe bool
		_, probe, c = c.MayCall(p, now)
		require.True(t, probe)
		var ch ims.CircuitChange
		c, ch = c.Observe(p, ims.DeliveryResult{Err: "timeout"}, now)
		require.Equal(t, ims.ChangeProbeFailed, ch)
		require.Empty(t, ch.EventType(), "a failed probe writes no audit event")
		require.Equal(t, ims.CircuitOpen, c.State)
		require.Equal(t, want, c.ProbeDelay)
		require.Equal(t, now.Add(want), c.NextProbeAt)
		require.Equal(t, t0, c.OpenedAt, "the outage began at the first opening")
	}

	now = c.NextProbeAt
	_, _, c = c.MayCall(p, now)
	c, ch := c.Observe(p, ims.DeliveryResult{StatusCode: 202}, now)
	require.Equal(t, ims.ChangeClosed, ch)
	require.Equal(t, ims.EventCircuitClosed, ch.EventType())
	require.Equal(t, ims.CircuitClosed, c.State)
	require.Zero(t, c.Failures)
	require.Empty(t, c.LastError)
	require.True(t, c.HoldUntil().IsZero())

	t.Run("reopening starts again from the first probe delay", func(t *testing.T) {
		t.Parallel()
		c, ch := c.Observe(p, ims.DeliveryResult{StatusCode: 500}, now)
		require.Equal(t, ims.ChangeOpened, ch)
		require.Equal(t, ims.EventCircuitOpened, ch.EventType())
		require.Equal(t, 5*time.Second, c.ProbeDelay)
		require.Equal(t, now, c.OpenedAt)
		require.Equal(t, now.Add(5*time.Second), c.HoldUntil())
	})
	t.Run("a late success closes an open circuit", func(t *testing.T) {
		t.Parallel()
		open, _ := ims.Circuit{}.Observe(p, ims.DeliveryResult{StatusCode: 503}, t0)
		closed, ch := open.Observe(p, ims.DeliveryResult{StatusCode: 200}, t0.Add(time.Second))
		require.Equal(t, ims.ChangeClosed, ch)
		require.Equal(t, ims.CircuitClosed, closed.State)
	})
}

func TestCircuitRampFraction(t *testing.T) {
	t.Parallel()
	p := ims.BreakerPolicy{Threshold: 1, Ramp: 10 * time.Second}
	open, _ := ims.Circuit{}.Observe(p, ims.DeliveryResult{StatusCode: 500}, t0)
	closed, _ := open.Observe(p, ims.DeliveryResult{StatusCode: 202}, t0)

	tests := []struct {
		name string
		c    ims.Circuit
		now  time.Time
		want float64
	}{
		{"never opened: full pace", ims.Circuit{}, t0, 1},
		{"open: only the probe", open, t0, 0},
		{"at closing: the floor", closed, t0, 0.1},
		{"halfway", closed, t0.Add(5 * time.Second), 0.55},
		{"at the ramp's end", closed, t0.Add(10 * time.Second), 1},
		{"after the ramp", closed, t0.Add(time.Hour), 1},
		{"a clock behind the closer's", closed, t0.Add(-time.Second), 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tt.want, tt.c.RampFraction(tt.now), 1e-9)
		})
	}
}
