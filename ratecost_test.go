package ims_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestRateChargeSegments(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := ims.RatePolicy{Limit: 10, Burst: 10}
	var s ims.RateState

	granted, s, _ := s.Take(p, 10, now)
	require.Equal(t, 10, granted, "a full bucket grants its burst")
	// The ten messages were 3 segments each: 20 more units are owed.
	s = s.Charge(p, 20, now)
	require.InDelta(t, -20, s.Tokens, 1e-9)

	granted, s, wait := s.Take(p, 1, now)
	require.Zero(t, granted, "nothing while in debt")
	require.Equal(t, now.Add(2100*time.Millisecond), wait, "until the debt is paid and one unit is there")
	require.InDelta(t, -20, s.Tokens, 1e-9, "a refused take leaves the debt")

	granted, _, _ = s.Take(p, 5, now.Add(2100*time.Millisecond))
	require.Equal(t, 1, granted, "21 units refilled in 2.1 s: 20 paid, 1 to spend")
}

func TestRateChargeUnlimitedIsFree(t *testing.T) {
	t.Parallel()
	s := ims.RateState{Tokens: 3}
	require.Equal(t, s, s.Charge(ims.RatePolicy{}, 100, time.Now()))
}

func TestExtraCost(t *testing.T) {
	t.Parallel()
	msgs := []ims.Message{{Segments: 3}, {Segments: 1}, {Segments: 0}}
	tests := []struct {
		name string
		unit ims.RateUnit
		want int
	}{
		{name: "messages cost one each", unit: ims.RateUnitMessages, want: 0},
		{name: "segments beyond the first", unit: ims.RateUnitSegments, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ims.ExtraCost(msgs, tt.unit))
		})
	}
}
