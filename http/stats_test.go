package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/stats"
	"github.com/insiderone/ims/metrics"
	"github.com/insiderone/ims/sqlite"
)

// fixedStats is a StatsSource with a canned answer.
type fixedStats struct{ st ims.Stats }

func (f fixedStats) Stats() ims.Stats { return f.st }

func TestStats(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)
	src := fixedStats{ims.Stats{
		Counts:      map[ims.Status]int64{ims.StatusPending: 3, ims.StatusSending: 0, ims.StatusSent: 120, ims.StatusDead: 2, ims.StatusCanceled: 1},
		RefreshedAt: &at,
		Rates:       ims.DeliveryRates{Window: time.Minute, Delivered: 2, Retried: 0.5, Dead: 0.25},
		Webhook:     ims.WebhookHealth{Degraded: true, Detail: "3 of 4 recent attempts failed; last error: HTTP 401", LastError: "HTTP 401", Attempts: 4, Failures: 3},
		Scheduler: ims.SchedulerStatus{Running: true, Interval: 2 * time.Minute, BatchSize: 2, QueueMode: "db", Instance: "i-1", Leader: "i-1", IsLeader: true,
			ProviderStatus: ims.ProviderStatus{Circuit: ims.CircuitClosed}},
	}}
	b := setup(t, func(o *setupOptions) { o.deps.Stats = src })

	t.Run("needs the key", func(t *testing.T) {
		decode[apiError](t, b.do(t, request{method: "GET", path: "/api/stats", noAuth: true}), http.StatusUnauthorized)
	})
	t.Run("serves the source's figures", func(t *testing.T) {
		got := decode[map[string]any](t, b.do(t, request{method: "GET", path: "/api/stats"}), http.StatusOK)
		want := map[string]any{
			"counts":       map[string]any{"pending": 3.0, "sending": 0.0, "sent": 120.0, "dead": 2.0, "canceled": 1.0},
			"refreshed_at": "2026-01-02T15:04:00Z",
			"rates":        map[string]any{"window": "1m0s", "delivered_per_second": 2.0, "retried_per_second": 0.5, "dead_per_second": 0.25},
			"webhook": map[string]any{"degraded": true, "detail": "3 of 4 recent attempts failed; last error: HTTP 401",
				"last_error": "HTTP 401", "recent_attempts": 4.0, "recent_failures": 3.0},
			"scheduler": map[string]any{"running": true, "interval": "2m0s", "batch_size": 2.0, "queue_mode": "db",
				"instance": "i-1", "leader": "i-1", "is_leader": true, "updated_at": "0001-01-01T00:00:00Z",
				"rate_limit": 0.0, "effective_rate": 0.0, "paused_until": nil, "circuit": "closed"},
		}
		require.Equal(t, want, got)
	})
	t.Run("not wired: 503", func(t *testing.T) {
		bare := setup(t)
		decode[apiError](t, bare.do(t, request{method: "GET", path: "/api/stats"}), http.StatusServiceUnavailable)
	})
}

// countingStore counts the queries the flood test cares about.
type countingStore struct {
	*sqlite.Store
	counts, pings atomic.Int64
}

func (c *countingStore) CountByStatus(ctx context.Context) (map[ims.Status]int64, error) {
	c.counts.Add(1)
	return c.Store.CountByStatus(ctx)
}

func (c *countingStore) Ping(ctx context.Context) error {
	c.pings.Add(1)
	return c.Store.Ping(ctx)
}

// TestPublicEndpointFloodCostsNoQueries: hundreds of concurrent scrapes,
// probes and console polls over real connections run a bounded number of
// database queries — the one count of the refresh period and one health run
// — instead of one per request. Time is frozen (the refresh timer never
// fires, the health clock stands still), so the bound is exact and no timing
// is asserted.
func TestPublicEndpointFloodCostsNoQueries(t *testing.T) {
	t.Parallel()
	base := setup(t)
	store := &countingStore{Store: base.store}
	counts := stats.NewCounts(store, stats.CountsConfig{After: func(time.Duration) <-chan time.Time { return nil }})
	outcomes := stats.NewOutcomes(stats.OutcomesConfig{})
	sched := func() ims.SchedulerStatus { return ims.SchedulerStatus{Running: true, QueueMode: "db"} }
	b := setup(t, func(o *setupOptions) {
		o.deps.Messages, o.deps.Audit = store, store
		o.deps.Metrics = metrics.New(metrics.StatusSource{Counts: counts.Snapshot, Scheduler: sched}).Handler()
		o.deps.Stats = stats.Overview{Counts: counts, Outcomes: outcomes, Scheduler: sched}
		o.deps.Health = []HealthCheck{{Name: "database", Required: true, Check: func(ctx context.Context) (string, error) {
			return "sqlite", store.Ping(ctx)
		}}}
	})
	b.srv.health.now = (&frozenClock{now: b.now}).Now

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		counts.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	ts := httptest.NewServer(b.srv)
	t.Cleanup(ts.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(client.CloseIdleConnections)

	const perEndpoint = 200
	var wg sync.WaitGroup
	statuses := make(chan string, 3*perEndpoint)
	for i := range 3 * perEndpoint {
		path := []string{"/metrics", "/api/health", "/api/stats"}[i%3]
		wg.Go(func() {
			req, err := http.NewRequest("GET", ts.URL+path, nil)
			if err != nil {
				statuses <- err.Error()
				return
			}
			req.Header.Set("Authorization", testKey)
			resp, err := client.Do(req)
			if err != nil {
				statuses <- err.Error()
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			statuses <- fmt.Sprintf("%s %d", path, resp.StatusCode)
		})
	}
	wg.Wait()
	close(statuses)
	seen := map[string]int{}
	for s := range statuses {
		seen[s]++
	}
	// /metrics may shed a share of a flood with 503 (bounded scrapes in
	// flight); everything else is answered.
	require.Equal(t, perEndpoint, seen["/api/health 200"], "%v", seen)
	require.Equal(t, perEndpoint, seen["/api/stats 200"], "%v", seen)
	require.Equal(t, perEndpoint, seen["/metrics 200"]+seen["/metrics 503"], "%v", seen)
	require.Positive(t, seen["/metrics 200"], "%v", seen)

	require.LessOrEqual(t, store.counts.Load(), int64(2), "count queries for %d requests in one refresh period", 3*perEndpoint)
	require.LessOrEqual(t, store.pings.Load(), int64(2), "pings for %d health probes within the cache TTL", perEndpoint)

	// And the cache was what they read.
	var st map[string]any
	w := b.do(t, request{method: "GET", path: "/api/stats"})
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &st))
	require.Contains(t, st, "counts")
}
