package ims_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

var r0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRatePolicyDefaultsAndValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit float64
		burst float64
	}{
		{"burst is one second's worth", 10, 10},
		{"fractional limit: burst of one call", 0.5, 1},
		{"fractional above one", 2.5, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := ims.RatePolicy{Limit: tt.limit}.WithDefaults()
			require.Equal(t, tt.burst, p.Burst)
			require.InDelta(t, tt.limit/10, p.MinRate, 1e-12)
			require.InDelta(t, tt.limit/30, p.IncreasePerSecond, 1e-12)
			require.Equal(t, 0.5, p.DecreaseFactor)
			require.Equal(t, time.Minute, p.MaxPause)
			require.NoError(t, p.Validate())
		})
	}
	require.NoError(t, ims.RatePolicy{}.WithDefaults().Validate(), "no limit is valid")

	bad := []struct {
		name string
		p    ims.RatePolicy
	}{
		{"negative limit", ims.RatePolicy{Limit: -1}},
		{"NaN limit", ims.RatePolicy{Limit: math.NaN()}},
		{"infinite limit", ims.RatePolicy{Limit: math.Inf(1)}},
		{"burst below one call", ims.RatePolicy{Limit: 5, Burst: 0.5}},
		{"min rate above the limit", ims.RatePolicy{Limit: 5, MinRate: 6}},
		{"decrease factor of one", ims.RatePolicy{Limit: 5, DecreaseFactor: 1}},
		{"negative increase", ims.RatePolicy{Limit: 5, IncreasePerSecond: -1}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Error(t, tt.p.WithDefaults().Validate())
		})
	}
}

func TestRateTake(t *testing.T) {
	t.Parallel()
	p := ims.RatePolicy{Limit: 2, Burst: 4}
	full := ims.RateState{Tokens: 4, Rate: 2, UpdatedAt: r0}
	empty := ims.RateState{Tokens: 0, Rate: 2, UpdatedAt: r0}
	tests := []struct {
		name    string
		s       ims.RateState
		n       int
		now     time.Time
		granted int
		wait    time.Duration // from now; 0 = none
	}{
		{"nothing stored: a full bucket", ims.RateState{}, 10, r0, 4, 500 * time.Millisecond},
		{"within the burst", full, 3, r0, 3, 0},
		{"more than the burst: partial", full, 5, r0, 4, 500 * time.Millisecond},
		{"empty: wait for one token", empty, 1, r0, 0, 500 * time.Millisecond},
		{"refilled at the rate", empty, 10, r0.Add(1500 * time.Millisecond), 3, 500 * time.Millisecond},
		{"refill capped at the burst", empty, 10, r0.Add(time.Hour), 4, 500 * time.Millisecond},
		{"a clock behind drains nothing", full, 2, r0.Add(-time.Minute), 2, 0},
		{"nothing asked", full, 0, r0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			granted, next, waitUntil := tt.s.Take(p, tt.n, tt.now)
			require.Equal(t, tt.granted, granted)
			if tt.wait == 0 {
				require.True(t, waitUntil.IsZero(), waitUntil)
			} else {
				require.Equal(t, tt.now.Add(tt.wait), waitUntil)
			}
			require.GreaterOrEqual(t, next.Tokens, 0.0)
			require.False(t, next.UpdatedAt.Before(tt.s.UpdatedAt), "UpdatedAt never goes back")
		})
	}
}

func TestRateTakeFractional(t *testing.T) {
	t.Parallel()
	// 0.5/s: one call, then one every two seconds.
	p := ims.RatePolicy{Limit: 0.5}
	s := ims.RateState{}
	granted, s, wait := s.Take(p, 5, r0)
	require.Equal(t, 1, granted, "a burst of one call")
	require.Equal(t, r0.Add(2*time.Second), wait)

	tests := []struct {
		name    string
		after   time.Duration
		granted int
	}{
		{"one second: half a token", time.Second, 0},
		{"just short of two seconds", 2*time.Second - time.Millisecond, 0},
		{"exactly two seconds: one call", 2 * time.Second, 1},
		{"four seconds: still one, the burst", 4 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			granted, _, _ := s.Take(p, 5, r0.Add(tt.after))
			require.Equal(t, tt.granted, granted)
		})
	}
}

func TestRateTakeUnlimited(t *testing.T) {
	t.Parallel()
	s := ims.RateState{Version: 3}
	granted, next, wait := s.Take(ims.RatePolicy{}, 1000, r0)
	require.Equal(t, 1000, granted)
	require.True(t, next == s, "no limit: nothing changes, nothing to write")
	require.True(t, wait.IsZero())

	t.Run("a throttle still pauses the fleet", func(t *testing.T) {
		t.Parallel()
		paused := s.Throttled(ims.RatePolicy{}, 3*time.Second, r0)
		require.Equal(t, r0.Add(3*time.Second), paused.PausedUntil)
		granted, _, wait := paused.Take(ims.RatePolicy{}, 1000, r0.Add(time.Second))
		require.Zero(t, granted)
		require.Equal(t, paused.PausedUntil, wait)
		granted, _, _ = paused.Take(ims.RatePolicy{}, 1000, paused.PausedUntil)
		require.Equal(t, 1000, granted, "and resumes unlimited: there is no rate to reduce")
		require.Zero(t, paused.EffectiveRate(ims.RatePolicy{}, r0))
	})
}

func TestRateThrottled(t *testing.T) {
	t.Parallel()
	p := ims.RatePolicy{Limit: 10, MaxPause: 30 * time.Second}
	s := ims.RateState{Tokens: 10, Rate: 10, UpdatedAt: r0}
	tests := []struct {
		name       string
		retryAfter time.Duration
		pause      time.Duration
	}{
		{"Retry-After honoured", 5 * time.Second, 5 * time.Second},
		{"absent: one second", 0, time.Second},
		{"capped at MaxPause", time.Hour, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			th := s.Throttled(p, tt.retryAfter, r0)
			require.Equal(t, r0.Add(tt.pause), th.PausedUntil)
			require.Equal(t, 5.0, th.Rate, "halved")
			require.True(t, th.Paused(r0.Add(tt.pause-time.Nanosecond)))
			require.Zero(t, th.EffectiveRate(p, r0), "nothing goes while paused")

			granted, _, wait := th.Take(p, 3, r0.Add(tt.pause-time.Nanosecond))
			require.Zero(t, granted, "nothing while paused")
			require.Equal(t, th.PausedUntil, wait)

			granted, _, wait = th.Take(p, 3, th.PausedUntil)
			require.Equal(t, 1, granted, "one call at the pause's end, no pile-up from the pause")
			require.Equal(t, th.PausedUntil.Add(200*time.Millisecond), wait, "then the reduced rate")
		})
	}

	t.Run("concurrent throttles cut the rate once and only lengthen the pause", func(t *testing.T) {
		t.Parallel()
		th := s.Throttled(p, 5*time.Second, r0)
		th = th.Throttled(p, time.Second, r0.Add(100*time.Millisecond))
		require.Equal(t, 5.0, th.Rate)
		require.Equal(t, r0.Add(5*time.Second), th.PausedUntil, "a shorter pause does not shorten it")
		granted, _, _ := th.Take(p, 3, th.PausedUntil)
		require.Equal(t, 1, granted, "and adds no tokens during the longer pause")
		th = th.Throttled(p, 10*time.Second, r0.Add(200*time.Millisecond))
		require.Equal(t, r0.Add(10200*time.Millisecond), th.PausedUntil)
		require.Equal(t, 5.0, th.Rate)
	})
	t.Run("floored at MinRate", func(t *testing.T) {
		t.Parallel()
		th, at := s, r0
		for _, want := range []float64{5, 2.5, 1.25, 1, 1} {
			th = th.Throttled(p, time.Second, at) // each at the end of the last pause
			require.InDelta(t, want, th.Rate, 1e-9)
			at = th.PausedUntil
		}
	})
}

func TestRateClimbsBack(t *testing.T) {
	t.Parallel()
	// Limit 10/s, increase 1/s per second: halved to 5 by a throttle, back
	// at 10 five seconds after the pause, and no further.
	p := ims.RatePolicy{Limit: 10, IncreasePerSecond: 1}
	th := ims.RateState{}.Throttled(p, time.Second, r0)
	end := r0.Add(time.Second)
	tests := []struct {
		name  string
		after time.Duration
		rate  float64
	}{
		{"at the pause's end", 0, 5},
		{"two seconds later", 2 * time.Second, 7},
		{"back at the limit", 5 * time.Second, 10},
		{"never above it", time.Hour, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tt.rate, th.EffectiveRate(p, end.Add(tt.after)), 1e-9)
			_, next, _ := th.Take(p, 1, end.Add(tt.after))
			require.InDelta(t, tt.rate, next.Rate, 1e-9, "Take stores the climb")
		})
	}
	t.Run("a lowered setting takes effect at once", func(t *testing.T) {
		t.Parallel()
		_, next, _ := ims.RateState{Tokens: 10, Rate: 10, UpdatedAt: r0}.Take(ims.RatePolicy{Limit: 2}, 10, r0)
		require.Equal(t, 2.0, next.Rate)
	})
}

func TestRateReturn(t *testing.T) {
	t.Parallel()
	p := ims.RatePolicy{Limit: 2, Burst: 4}
	granted, s, _ := ims.RateState{}.Take(p, 4, r0)
	require.Equal(t, 4, granted)
	s = s.Return(p, 3)
	require.InDelta(t, 3.0, s.Tokens, 1e-9)
	require.InDelta(t, 4.0, s.Return(p, 10).Tokens, 1e-9, "capped at the burst")
	require.True(t, s.Return(ims.RatePolicy{}, 3) == s, "no limit: nothing to return")
}
