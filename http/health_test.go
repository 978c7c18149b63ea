package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func check(name string, required bool, err error) HealthCheck {
	return HealthCheck{Name: name, Required: required, Check: func(context.Context) (string, error) {
		if err != nil {
			return "", err
		}
		return name + " fine", nil
	}}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	down := errors.New("dial tcp 10.1.2.3:5432: connection refused")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name       string
		checks     []HealthCheck
		status     int
		overall    string
		components map[string]componentHealth
		// shortTimeout is set only where every check hangs: elsewhere a
		// short timer could race the fast checks.
		shortTimeout bool
	}{
		{"no checks", nil, http.StatusOK, healthOK, map[string]componentHealth{}, false},
		{"all up", []HealthCheck{check("database", true, nil), check("cache", false, nil)}, http.StatusOK, healthOK,
			map[string]componentHealth{
				"database": {Status: componentUp, Required: true, Detail: "database fine"},
				"cache":    {Status: componentUp, Detail: "cache fine"},
			}, false},
		{"optional down is degraded", []HealthCheck{check("database", true, nil), check("cache", false, down)}, http.StatusOK, healthDegraded,
			map[string]componentHealth{
				"database": {Status: componentUp, Required: true, Detail: "database fine"},
				"cache":    {Status: componentDown, Error: "check failed"},
			}, false},
		{"required down is 503", []HealthCheck{check("database", true, down), check("cache", false, down)}, http.StatusServiceUnavailable, healthDown,
			map[string]componentHealth{
				"database": {Status: componentDown, Required: true, Error: "check failed"},
				"cache":    {Status: componentDown, Error: "check failed"},
			}, false},
		{"ims errors are shown", []HealthCheck{check("queue", true, ims.Errorf(ims.EUNAVAILABLE, "broker connection lost"))}, http.StatusServiceUnavailable, healthDown,
			map[string]componentHealth{"queue": {Status: componentDown, Required: true, Error: "broker connection lost"}}, false},
		{"timeout", []HealthCheck{{Name: "database", Required: true, Check: func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}}}, http.StatusServiceUnavailable, healthDown,
			map[string]componentHealth{"database": {Status: componentDown, Required: true, Error: "timed out after 10ms"}}, true},
		{"check ignoring its context is not waited for", []HealthCheck{{Name: "queue", Check: func(context.Context) (string, error) {
			<-release // ends at test cleanup, so goleak sees no leak
			return "", nil
		}}}, http.StatusOK, healthDegraded,
			map[string]componentHealth{"queue": {Status: componentDown, Error: "timed out after 10ms"}}, true},
		{"degraded component: service degraded, still 200", []HealthCheck{check("database", true, nil),
			{Name: "webhook", Check: func(context.Context) (string, error) {
				return "", Degraded("3 of 3 recent attempts failed; last error: HTTP 401")
			}}}, http.StatusOK, healthDegraded,
			map[string]componentHealth{
				"database": {Status: componentUp, Required: true, Detail: "database fine"},
				"webhook":  {Status: componentDegraded, Detail: "3 of 3 recent attempts failed; last error: HTTP 401"},
			}, false},
		{"webhook down with its circuit open: service degraded, still 200", []HealthCheck{check("database", true, nil),
			{Name: "webhook", Check: func(context.Context) (string, error) {
				return "", Down("circuit open since 2026-03-01T12:00:00Z: HTTP 401")
			}}}, http.StatusOK, healthDegraded,
			map[string]componentHealth{
				"database": {Status: componentUp, Required: true, Detail: "database fine"},
				"webhook":  {Status: componentDown, Detail: "circuit open since 2026-03-01T12:00:00Z: HTTP 401"},
			}, false},
		{"a degraded required component does not make the service down", []HealthCheck{
			{Name: "queue", Required: true, Check: func(context.Context) (string, error) { return "", Degraded("slow") }}},
			http.StatusOK, healthDegraded,
			map[string]componentHealth{"queue": {Status: componentDegraded, Required: true, Detail: "slow"}}, false},
		{"down wins over degraded", []HealthCheck{check("database", true, down),
			{Name: "webhook", Check: func(context.Context) (string, error) { return "", Degraded("HTTP 401") }}},
			http.StatusServiceUnavailable, healthDown,
			map[string]componentHealth{
				"database": {Status: componentDown, Required: true, Error: "check failed"},
				"webhook":  {Status: componentDegraded, Detail: "HTTP 401"},
			}, false},
		{"panicking check", []HealthCheck{{Name: "scheduler", Check: func(context.Context) (string, error) { panic("oops") }}},
			http.StatusOK, healthDegraded,
			map[string]componentHealth{"scheduler": {Status: componentDown, Error: "check failed"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *setupOptions) { o.deps.Health = tt.checks })
			if tt.shortTimeout {
				b.srv.healthTimeout = 10 * time.Millisecond
			}
			w := b.do(t, request{method: "GET", path: "/api/health", noAuth: true})
			h := decode[healthResponse](t, w, tt.status)
			require.Equal(t, tt.overall, h.Status)
			require.Equal(t, "1.2.3", h.Version)
			require.Equal(t, tt.components, h.Components)
			require.NotContains(t, w.Body.String(), "10.1.2.3", "internal error text must not leak")
		})
	}
}

// countingCheck counts its runs; each run waits for release, so that
// concurrent requests really overlap.
type countingCheck struct {
	runs    atomic.Int64
	release chan struct{}
}

func (c *countingCheck) check() HealthCheck {
	return HealthCheck{Name: "database", Required: true, Check: func(ctx context.Context) (string, error) {
		n := c.runs.Add(1)
		select {
		case <-c.release:
		case <-ctx.Done():
		}
		return fmt.Sprintf("run %d", n), nil
	}}
}

// TestHealthSharesRuns: /api/health needs no key, so a flood of probes must
// not become a flood of pings. Concurrent requests share one run of the
// checks, and a run answers for healthCacheTTL; the clock is frozen, so the
// bound is exact and nothing depends on how fast the machine is.
func TestHealthSharesRuns(t *testing.T) {
	t.Parallel()
	cc := &countingCheck{release: make(chan struct{})}
	b := setup(t, func(o *setupOptions) { o.deps.Health = []HealthCheck{cc.check()} })
	clk := &frozenClock{now: b.now}
	b.srv.health.now = clk.Now

	const n = 100
	var wg sync.WaitGroup
	answers := make(chan *httptest.ResponseRecorder, n)
	for range n {
		wg.Go(func() {
			r := httptest.NewRequest("GET", "/api/health", nil)
			w := httptest.NewRecorder()
			b.srv.ServeHTTP(w, r)
			answers <- w
		})
	}
	for cc.runs.Load() == 0 {
		runtime.Gosched() // the first request has started the run
	}
	close(cc.release)
	wg.Wait()
	close(answers)
	for w := range answers {
		require.Equal(t, "run 1", decode[healthResponse](t, w, http.StatusOK).Components["database"].Detail)
	}
	require.Equal(t, int64(1), cc.runs.Load(), "one run for every request in flight or within the TTL")

	t.Run("within the TTL the answer is reused", func(t *testing.T) {
		clk.advance(healthCacheTTL - time.Millisecond)
		w := b.do(t, request{method: "GET", path: "/api/health", noAuth: true})
		require.Equal(t, "run 1", decode[healthResponse](t, w, http.StatusOK).Components["database"].Detail)
		require.Equal(t, int64(1), cc.runs.Load())
	})
	t.Run("after the TTL the checks run again", func(t *testing.T) {
		clk.advance(time.Millisecond)
		w := b.do(t, request{method: "GET", path: "/api/health", noAuth: true})
		require.Equal(t, "run 2", decode[healthResponse](t, w, http.StatusOK).Components["database"].Detail)
		require.Equal(t, int64(2), cc.runs.Load())
	})
}

// frozenClock is a time that moves only when a test says so.
type frozenClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *frozenClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *frozenClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
