package http

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/stats"
)

// countingConsole is a ConsoleSource that counts how often it is asked.
type countingConsole struct {
	fixedStats
	asked atomic.Int64
}

func (c *countingConsole) Stats() ims.Stats {
	c.asked.Add(1)
	return c.fixedStats.Stats()
}

func (c *countingConsole) Series() stats.SeriesSnapshot {
	return stats.NewSeries(nil).Snapshot(stats.SeriesStep)
}

// Instances is a fleet of two as of the tests' clock: i-1 beat 2 s ago,
// i-2 missed its heartbeats.
func (c *countingConsole) Instances() stats.FleetSnapshot {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	return stats.FleetSnapshot{RefreshedAt: now, Instances: []ims.Instance{
		{ID: "i-1", StartedAt: now.Add(-time.Hour), LastSeen: now.Add(-2 * time.Second), Version: "v1", QueueMode: "db", Leader: true},
		{ID: "i-2", StartedAt: now.Add(-time.Hour), LastSeen: now.Add(-ims.InstanceStaleAfter - time.Second), Version: "v0", QueueMode: "db"},
	}}
}

func newCountingConsole() *countingConsole {
	return &countingConsole{fixedStats: fixedStats{ims.Stats{
		Counts:    map[ims.Status]int64{ims.StatusPending: 3, ims.StatusSending: 2, ims.StatusSent: 120, ims.StatusDead: 2},
		Rates:     ims.DeliveryRates{Window: time.Minute, Delivered: 2},
		Scheduler: ims.SchedulerStatus{Running: true, Interval: time.Second, Instance: "i-1", Leader: "i-1", IsLeader: true},
	}}}
}

func withConsole(src ConsoleSource, streams int) option {
	return func(o *setupOptions) {
		o.deps.Console = src
		o.cfg.ConsoleStreams = streams
	}
}

func TestConsoleSnapshot(t *testing.T) {
	t.Parallel()
	src := newCountingConsole()
	b := setup(t, withConsole(src, 0))

	t.Run("needs the key", func(t *testing.T) {
		decode[apiError](t, b.do(t, request{method: "GET", path: "/api/console", noAuth: true}), http.StatusUnauthorized)
	})
	t.Run("serves counts, backlog, rates, scheduler and the series", func(t *testing.T) {
		got := decode[map[string]any](t, b.do(t, request{method: "GET", path: "/api/console"}), http.StatusOK)
		require.Equal(t, 5.0, got["backlog"])
		require.Equal(t, "2026-01-02T15:04:05Z", got["generated_at"])
		require.Equal(t, 120.0, got["counts"].(map[string]any)["sent"])
		require.Equal(t, 2.0, got["rates"].(map[string]any)["delivered_per_second"])
		require.Equal(t, "1s", got["scheduler"].(map[string]any)["interval"])
		series := got["series"].(map[string]any)
		require.Equal(t, "5s", series["step"])
		require.Len(t, series["delivered_per_second"], 180)
		require.Len(t, series["latency_p95_ms"], 180)
	})
	t.Run("serves the instances, the silent one stale", func(t *testing.T) {
		got := decode[consoleSnapshot](t, b.do(t, request{method: "GET", path: "/api/console"}), http.StatusOK)
		require.Empty(t, got.InstancesError)
		require.Len(t, got.Instances, 2)
		tests := []struct {
			id                  string
			leader, stale, self bool
		}{
			{"i-1", true, false, true},
			{"i-2", false, true, false},
		}
		for i, tt := range tests {
			t.Run(tt.id, func(t *testing.T) {
				in := got.Instances[i]
				require.Equal(t, tt.id, in.ID)
				require.Equal(t, tt.leader, in.Leader)
				require.Equal(t, tt.stale, in.Stale)
				require.Equal(t, tt.self, in.Self)
				require.Equal(t, "db", in.QueueMode)
			})
		}
	})
	t.Run("not wired: 503", func(t *testing.T) {
		bare := setup(t)
		decode[apiError](t, bare.do(t, request{method: "GET", path: "/api/console"}), http.StatusServiceUnavailable)
		decode[apiError](t, bare.do(t, request{method: "GET", path: "/api/console/stream"}), http.StatusServiceUnavailable)
	})
	t.Run("no producer: the stream answers 503", func(t *testing.T) {
		decode[apiError](t, b.do(t, request{method: "GET", path: "/api/console/stream"}), http.StatusServiceUnavailable)
	})
}

// openStream opens GET /api/console/stream on a real server and returns
// the response (the caller closes its body).
func openStream(t *testing.T, url string, key string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url+"/api/console/stream", nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return res
}

// nextSnapshot reads the stream up to its next snapshot event.
func nextSnapshot(t *testing.T, r *bufio.Reader) map[string]any {
	t.Helper()
	event := ""
	for {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "snapshot":
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v))
			return v
		}
	}
}

func TestConsoleStream(t *testing.T) {
	t.Parallel()

	t.Run("pushes one snapshot per tick from one producer", func(t *testing.T) {
		t.Parallel()
		src := newCountingConsole()
		b := setup(t, withConsole(src, 0))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); b.srv.RunConsole(ctx) }()
		srv := httptest.NewServer(b.srv)
		t.Cleanup(func() { cancel(); <-done; srv.Close() })

		var readers []*bufio.Reader
		for range 3 {
			res := openStream(t, srv.URL, testKey)
			t.Cleanup(func() { _ = res.Body.Close() })
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
			readers = append(readers, bufio.NewReader(res.Body))
		}
		for _, r := range readers {
			for range 2 {
				require.Equal(t, 5.0, nextSnapshot(t, r)["backlog"])
			}
		}
		// Three viewers, at least two snapshots each: the source was asked
		// once per tick, not once per viewer and tick.
		cancel()
		<-done
		ticks := src.asked.Load()
		require.GreaterOrEqual(t, ticks, int64(2))
		for _, r := range readers {
			_, err := io.Copy(io.Discard, r)
			require.NoError(t, err, "the stream ends cleanly when the producer stops")
		}
		require.Equal(t, ticks, src.asked.Load())
	})
	t.Run("needs the key", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withConsole(newCountingConsole(), 0))
		srv := httptest.NewServer(b.srv)
		t.Cleanup(srv.Close)
		res := openStream(t, srv.URL, "")
		_ = res.Body.Close()
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	})
	t.Run("bounded: one stream too many is 503", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withConsole(newCountingConsole(), 1))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); b.srv.RunConsole(ctx) }()
		srv := httptest.NewServer(b.srv)
		t.Cleanup(func() { cancel(); <-done; srv.Close() })
		first := openStream(t, srv.URL, testKey)
		t.Cleanup(func() { _ = first.Body.Close() })
		nextSnapshot(t, bufio.NewReader(first.Body)) // subscribed
		second := openStream(t, srv.URL, testKey)
		_ = second.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, second.StatusCode)
	})
	t.Run("a stream outlives the server's read and write timeouts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withConsole(newCountingConsole(), 0))
		b.srv.live.every = 50 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); b.srv.RunConsole(ctx) }()
		srv := httptest.NewUnstartedServer(b.srv)
		srv.Config.ReadTimeout, srv.Config.WriteTimeout = 100*time.Millisecond, 100*time.Millisecond
		srv.Start()
		t.Cleanup(func() { cancel(); <-done; srv.Close() })
		res := openStream(t, srv.URL, testKey)
		defer res.Body.Close()
		r := bufio.NewReader(res.Body)
		start := time.Now()
		for time.Since(start) < 500*time.Millisecond { // five times either timeout
			nextSnapshot(t, r)
		}
	})
	t.Run("the server's shutdown does not wait for a viewer", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withConsole(newCountingConsole(), 0))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); b.srv.RunConsole(ctx) }()
		srv := httptest.NewUnstartedServer(b.srv)
		srv.Start()
		res := openStream(t, srv.URL, testKey)
		defer res.Body.Close()
		nextSnapshot(t, bufio.NewReader(res.Body))
		// As Main.Close does: end the producer, then shut the server down.
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		require.NoError(t, srv.Config.Shutdown(sctx))
		srv.Close()
	})
}

func TestConsoleInstances(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	fresh := ims.Instance{ID: "a", LastSeen: now.Add(-ims.InstanceStaleAfter)}
	silent := ims.Instance{ID: "b", LastSeen: now.Add(-ims.InstanceStaleAfter - time.Microsecond)}
	tests := []struct {
		name      string
		snap      stats.FleetSnapshot
		wantStale []bool
		wantErr   string
	}{
		{"not listed yet", stats.FleetSnapshot{Err: stats.ErrNotListed}, []bool{}, stats.ErrNotListed.Error()},
		{"listed: stale just past the limit", stats.FleetSnapshot{Instances: []ims.Instance{fresh, silent}}, []bool{false, true}, ""},
		{"the latest beat failed: the list before, and no cause shown",
			stats.FleetSnapshot{Instances: []ims.Instance{fresh}, Err: errors.New("dial tcp 10.0.0.7:5432: refused")},
			[]bool{false}, "the latest heartbeat failed (see the server log); the list is as of the one before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, msg := consoleInstances(tt.snap, "a", now)
			require.Equal(t, tt.wantErr, msg)
			require.NotNil(t, got, "[] rather than null for the page")
			stale := make([]bool, len(got))
			for i, in := range got {
				stale[i] = in.Stale
				require.Equal(t, in.ID == "a", in.Self)
			}
			require.Equal(t, tt.wantStale, stale)
		})
	}
}
