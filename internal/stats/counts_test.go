package stats

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// fakeCounter answers CountByStatus with what the test sets and reports
// every call on calls, so a test waits for a refresh instead of sleeping.
type fakeCounter struct {
	mu     sync.Mutex
	counts map[ims.Status]int64
	err    error
	block  bool // wait for the context to end, like a hung query
	calls  chan struct{}
}

func newFakeCounter() *fakeCounter {
	return &fakeCounter{counts: map[ims.Status]int64{}, calls: make(chan struct{}, 100)}
}

func (f *fakeCounter) set(counts map[ims.Status]int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts, f.err = counts, err
}

func (f *fakeCounter) CountByStatus(ctx context.Context) (map[ims.Status]int64, error) {
	defer func() { f.calls <- struct{}{} }()
	f.mu.Lock()
	counts, err, block := f.counts, f.err, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return counts, err
}

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestCountsCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, clk := newFakeCounter(), newClock()
	c := NewCounts(src, CountsConfig{Clock: clk.Now})

	t.Run("nothing before the first count", func(t *testing.T) {
		snap := c.Snapshot()
		require.Nil(t, snap.Counts)
		require.ErrorIs(t, snap.Err, ErrNotCounted)
		require.True(t, snap.RefreshedAt.IsZero())
	})
	t.Run("a count fills every status", func(t *testing.T) {
		src.set(map[ims.Status]int64{ims.StatusPending: 3, ims.StatusDead: 1}, nil)
		c.Refresh(ctx)
		snap := c.Snapshot()
		require.NoError(t, snap.Err)
		require.Equal(t, map[ims.Status]int64{ims.StatusPending: 3, ims.StatusSending: 0, ims.StatusSent: 0, ims.StatusDead: 1, ims.StatusCanceled: 0, ims.StatusExpired: 0}, snap.Counts)
		require.Equal(t, clk.Now(), snap.RefreshedAt)
	})
	t.Run("readers get a copy", func(t *testing.T) {
		c.Snapshot().Counts[ims.StatusPending] = 99
		require.Equal(t, int64(3), c.Snapshot().Counts[ims.StatusPending])
	})
	t.Run("a failed count keeps the last good one", func(t *testing.T) {
		before := c.Snapshot()
		clk.advance(5 * time.Second)
		src.set(nil, errors.New("database is down"))
		c.Refresh(ctx)
		snap := c.Snapshot()
		require.ErrorContains(t, snap.Err, "database is down")
		require.Equal(t, before.Counts, snap.Counts)
		require.Equal(t, before.RefreshedAt, snap.RefreshedAt, "refreshed_at says how old the counts are")
	})
	t.Run("a later count clears the error", func(t *testing.T) {
		clk.advance(5 * time.Second)
		src.set(map[ims.Status]int64{ims.StatusSent: 7}, nil)
		c.Refresh(ctx)
		snap := c.Snapshot()
		require.NoError(t, snap.Err)
		require.Equal(t, int64(7), snap.Counts[ims.StatusSent])
		require.Equal(t, clk.Now(), snap.RefreshedAt)
	})
}

func TestCountsQueryTimeout(t *testing.T) {
	t.Parallel()
	src := newFakeCounter()
	src.block = true
	c := NewCounts(src, CountsConfig{QueryTimeout: 10 * time.Millisecond})
	c.Refresh(context.Background()) // returns: the hung query is cut off
	require.ErrorIs(t, c.Snapshot().Err, context.DeadlineExceeded)
}

// TestCountsQueryTimeoutFollowsRefresh: the default bound of a count grows
// with the time between counts, so an operator who lengthens STATS_REFRESH
// for a store that counts slowly gets counts, not a timeout every time.
func TestCountsQueryTimeoutFollowsRefresh(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		refresh, timeout time.Duration
		want             time.Duration
	}{
		{"defaults", 0, 0, DefaultQueryTimeout},
		{"a short refresh bounds it", time.Second, 0, time.Second},
		{"half a long refresh", time.Minute, 0, 30 * time.Second},
		{"never under the default", 5 * time.Second, 0, DefaultQueryTimeout},
		{"an explicit timeout", time.Minute, 2 * time.Second, 2 * time.Second},
		{"an explicit timeout, at most the refresh", time.Second, time.Minute, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := CountsConfig{Refresh: tc.refresh, QueryTimeout: tc.timeout}.withDefaults().QueryTimeout
			require.Equal(t, tc.want, got)
		})
	}
}

// TestCountsRunRefreshesOncePerTick: the loop counts at start and once per
// tick of its timer, however often the cache is read, and ends with ctx.
func TestCountsRunRefreshesOncePerTick(t *testing.T) {
	t.Parallel()
	src := newFakeCounter()
	ticks := make(chan time.Time)
	var waits []time.Duration
	var mu sync.Mutex
	c := NewCounts(src, CountsConfig{Refresh: 7 * time.Second, After: func(d time.Duration) <-chan time.Time {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ticks
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	<-src.calls // the first count, at once
	for range 1000 {
		_ = c.Snapshot()
	}
	require.Empty(t, src.calls, "reads never count")
	for range 3 {
		ticks <- time.Time{}
		<-src.calls
	}
	cancel()
	<-done
	require.Empty(t, src.calls)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []time.Duration{7 * time.Second, 7 * time.Second, 7 * time.Second, 7 * time.Second}, waits)
}

func TestCountsOnCountFeedsTheBacklog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, clk := newFakeCounter(), newClock()
	series := NewSeries(clk.Now)
	var seen []map[ims.Status]int64
	c := NewCounts(src, CountsConfig{Clock: clk.Now, OnCount: func(counts map[ims.Status]int64) {
		seen = append(seen, counts)
		series.SampleBacklog(counts[ims.StatusPending] + counts[ims.StatusSending])
	}})

	t.Run("a good count is handed on, every status present", func(t *testing.T) {
		src.set(map[ims.Status]int64{ims.StatusPending: 4, ims.StatusSending: 1}, nil)
		c.Refresh(ctx)
		require.Len(t, seen, 1)
		require.Len(t, seen[0], len(ims.Statuses))
		clk.advance(time.Second)
		snap := series.Snapshot(time.Second)
		require.Equal(t, int64(5), *snap.Backlog[len(snap.Backlog)-1])
	})
	t.Run("a failed count is not", func(t *testing.T) {
		src.set(nil, errors.New("database gone"))
		c.Refresh(ctx)
		require.Len(t, seen, 1)
	})
}
