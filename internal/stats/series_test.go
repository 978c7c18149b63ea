package stats

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// idAt is a UUIDv7 message id created at t.
func idAt(t *testing.T, at time.Time) string {
	t.Helper()
	u, err := uuid.NewV7()
	require.NoError(t, err)
	ms := at.UnixMilli()
	for i := range 6 {
		u[5-i] = byte(ms >> (8 * i))
	}
	return u.String()
}

func TestCreatedAt(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 15, 4, 5, 123_000_000, time.UTC)
	tests := []struct {
		name string
		id   string
		want time.Time
		ok   bool
	}{
		{"a UUIDv7", idAt(t, at), at, true},
		{"a UUIDv4", "5f2b1c7e-8d3a-4b6f-9c1d-2e3f4a5b6c7d", time.Time{}, false},
		{"not a UUID", "m-ok", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := CreatedAt(tt.id)
			require.Equal(t, tt.ok, ok)
			require.True(t, tt.want.Equal(got), "got %v, want %v", got, tt.want)
		})
	}
}

func TestSeries(t *testing.T) {
	t.Parallel()
	ptr := func(v float64) *float64 { return &v }
	iptr := func(v int64) *int64 { return &v }
	decided := func(t *testing.T, clk *clock, createdAgo time.Duration, st ims.Status) ims.Outcome {
		t.Helper()
		return ims.Outcome{Claim: ims.Claim{MessageID: idAt(t, clk.Now().Add(-createdAgo))}, Decision: ims.Decision{Status: st}, At: clk.Now()}
	}

	t.Run("empty: zero rates, no latency, no backlog", func(t *testing.T) {
		t.Parallel()
		s := NewSeries(newClock().Now)
		snap := s.Snapshot(5 * time.Second)
		require.Len(t, snap.Delivered, 180)
		require.Equal(t, "5s", snap.Step)
		for i := range snap.Delivered {
			require.Zero(t, snap.Delivered[i])
			require.Nil(t, snap.P50[i])
			require.Nil(t, snap.Backlog[i])
		}
	})
	t.Run("outcomes land in their point as rates per second", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		s := NewSeries(clk.Now)
		for range 10 {
			s.Observe(decided(t, clk, 100*time.Millisecond, ims.StatusSent))
		}
		s.Observe(decided(t, clk, time.Second, ims.StatusPending))
		s.Observe(decided(t, clk, time.Second, ims.StatusDead))
		s.Observe(decided(t, clk, time.Second, ims.StatusExpired))
		s.SampleBacklog(42)
		clk.advance(time.Second) // the second is complete: it shows
		snap := s.Snapshot(5 * time.Second)
		last := len(snap.Delivered) - 1
		require.Equal(t, 2.0, snap.Delivered[last])
		require.Equal(t, 0.2, snap.Retried[last])
		require.Equal(t, 0.2, snap.Dead[last])
		require.Equal(t, 0.2, snap.Expired[last])
		require.Equal(t, iptr(42), snap.Backlog[last])
		require.Equal(t, ptr(108.4), snap.P50[last]) // 100 ms, within one 25 % bucket
		require.Equal(t, ptr(108.4), snap.P95[last])
		require.Zero(t, snap.Delivered[last-1])
	})
	t.Run("the current second is left out", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		s := NewSeries(clk.Now)
		s.Observe(decided(t, clk, 0, ims.StatusSent))
		snap := s.Snapshot(time.Second)
		for _, v := range snap.Delivered {
			require.Zero(t, v)
		}
	})
	t.Run("p95 sees the slow tail", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		s := NewSeries(clk.Now)
		for range 90 {
			s.Observe(decided(t, clk, 10*time.Millisecond, ims.StatusSent))
		}
		for range 10 {
			s.Observe(decided(t, clk, 3*time.Second, ims.StatusSent))
		}
		clk.advance(time.Second)
		snap := s.Snapshot(time.Second)
		last := len(snap.P50) - 1
		require.Less(t, *snap.P50[last], 15.0)
		require.Greater(t, *snap.P95[last], 2500.0)
	})
	t.Run("older than the span is forgotten", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		s := NewSeries(clk.Now)
		s.Observe(decided(t, clk, 0, ims.StatusDead))
		s.SampleBacklog(7)
		clk.advance(SeriesSpan + time.Second)
		snap := s.Snapshot(5 * time.Second)
		for i := range snap.Dead {
			require.Zero(t, snap.Dead[i])
			require.Nil(t, snap.Backlog[i])
		}
	})
	t.Run("a step that does not divide the span is one second", func(t *testing.T) {
		t.Parallel()
		snap := NewSeries(newClock().Now).Snapshot(7 * time.Second)
		require.Equal(t, 1, snap.StepSecs)
		require.Len(t, snap.Delivered, seriesBuckets)
	})
}

func TestObserverFeedsTheSeries(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := NewSeries(clk.Now)
	Observer{Series: s}.Delivered(ims.Outcome{Claim: ims.Claim{MessageID: "m-1"}, Decision: ims.Decision{Status: ims.StatusDead}})
	clk.advance(time.Second)
	snap := s.Snapshot(time.Second)
	require.Equal(t, 1.0, snap.Dead[len(snap.Dead)-1])
}
