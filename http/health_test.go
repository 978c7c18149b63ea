package http

import (
	"context"
	"errors"
	"net/http"
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
