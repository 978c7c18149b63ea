package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/insiderone/ims"
)

// defaultHealthCheckTimeout bounds each health check, so a hung dependency
// makes /api/health say "down" quickly instead of hanging the prober.
const defaultHealthCheckTimeout = 2 * time.Second

// healthCacheTTL is how long one run of the checks answers /api/health.
// The endpoint needs no key: without this, each request would ping every
// dependency, so a flood of probes would be a flood on the database.
const healthCacheTTL = time.Second

// Health statuses.
const (
	healthOK          = "ok"
	healthDegraded    = "degraded"
	healthDown        = "down"
	componentUp       = "up"
	componentDegraded = "degraded"
	componentDown     = "down"
)

// Degraded is what a HealthCheck returns when its component works, but not
// well (most recent webhook calls failing, say). The component is reported
// "degraded" with detail, and the service "degraded" (still 200): a degraded
// component never makes the service down.
func Degraded(detail string) error { return degradedError{detail: detail} }

type degradedError struct{ detail string }

func (e degradedError) Error() string { return "degraded: " + e.detail }

// Down is what a HealthCheck returns when its component is known to be out
// of service for a reason that may be shown (the webhook's circuit is open
// because the provider answers HTTP 401): the component is reported "down"
// with detail. Like any failed check, it makes the service down only when
// the component is required.
func Down(detail string) error { return downError{detail: detail} }

type downError struct{ detail string }

func (e downError) Error() string { return "down: " + e.detail }

type healthResponse struct {
	Status     string                     `json:"status"`
	Version    string                     `json:"version"`
	Components map[string]componentHealth `json:"components"`
}

type componentHealth struct {
	Status   string `json:"status"`
	Required bool   `json:"required"`
	Detail   string `json:"detail,omitempty"`
	Error    string `json:"error,omitempty"`
}

type checkResult struct {
	index  int
	detail string
	err    error
}

// healthAnswer is one run of the checks, as served.
type healthAnswer struct {
	status int
	body   healthResponse
	at     time.Time
}

// healthCache shares runs of the checks: concurrent requests wait for the
// one run in flight, and a finished run answers for healthCacheTTL.
type healthCache struct {
	flight singleflight.Group
	// now tells the time; tests freeze it.
	now  func() time.Time
	mu   sync.Mutex
	last *healthAnswer
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	a := s.sharedHealth(r.Context())
	writeJSON(w, r, s.logger, a.status, a.body)
}

// sharedHealth returns a recent answer or joins (or starts) the run in
// flight. The run is detached from the request that started it, so that
// client going away does not fail the others; the checks' own timeout
// bounds it.
func (s *Server) sharedHealth(ctx context.Context) healthAnswer {
	c := &s.health
	if a, ok := c.fresh(); ok {
		return a
	}
	v, _, _ := c.flight.Do("health", func() (any, error) {
		// Checked again: a run may have finished between fresh and Do.
		if a, ok := c.fresh(); ok {
			return a, nil
		}
		a := s.checkHealth(context.WithoutCancel(ctx))
		c.mu.Lock()
		c.last = &a
		c.mu.Unlock()
		return a, nil
	})
	return v.(healthAnswer)
}

// fresh returns the last answer if it is younger than healthCacheTTL.
func (c *healthCache) fresh() (healthAnswer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || c.now().Sub(c.last.at) >= healthCacheTTL {
		return healthAnswer{}, false
	}
	return *c.last, true
}

// checkHealth runs the checks once and builds the answer.
func (s *Server) checkHealth(ctx context.Context) healthAnswer {
	started := s.health.now()
	results := s.runHealthChecks(ctx)
	resp := healthResponse{Status: healthOK, Version: s.cfg.Version, Components: map[string]componentHealth{}}
	for i, hc := range s.deps.Health {
		c := componentHealth{Status: componentUp, Required: hc.Required, Detail: results[i].detail}
		var (
			degraded degradedError
			down     downError
		)
		switch err := results[i].err; {
		case errors.As(err, &degraded):
			c.Status, c.Detail = componentDegraded, degraded.detail
			resp.Status = worseHealth(resp.Status, false)
		case errors.As(err, &down):
			c.Status, c.Detail = componentDown, down.detail
			resp.Status = worseHealth(resp.Status, hc.Required)
		case err != nil:
			c.Status, c.Error = componentDown, s.healthErrorText(ctx, hc.Name, err)
			resp.Status = worseHealth(resp.Status, hc.Required)
		}
		resp.Components[hc.Name] = c
	}
	status := http.StatusOK
	if resp.Status == healthDown {
		status = http.StatusServiceUnavailable
	}
	return healthAnswer{status: status, body: resp, at: started}
}

// runHealthChecks runs every check concurrently. A check that ignores its
// context is not waited for past the timeout: it is reported as timed out
// and its goroutine ends on its own into a buffered channel.
func (s *Server) runHealthChecks(ctx context.Context) []checkResult {
	ctx, cancel := context.WithTimeout(ctx, s.healthTimeout)
	defer cancel()
	ch := make(chan checkResult, len(s.deps.Health))
	for i, hc := range s.deps.Health {
		go func() { ch <- runCheck(ctx, i, hc) }()
	}
	results := make([]checkResult, len(s.deps.Health))
	for i := range results {
		results[i] = checkResult{index: i, err: context.DeadlineExceeded}
	}
	for range s.deps.Health {
		select {
		case res := <-ch:
			results[res.index] = res
		case <-ctx.Done():
			return results
		}
	}
	return results
}

// runCheck runs one check, turning a panic into a failure: a goroutine's
// panic would otherwise take the whole process down.
func runCheck(ctx context.Context, i int, hc HealthCheck) (res checkResult) {
	defer func() {
		if p := recover(); p != nil {
			res = checkResult{index: i, err: fmt.Errorf("health check %s panicked: %v", hc.Name, p)}
		}
	}()
	detail, err := hc.Check(ctx)
	return checkResult{index: i, detail: detail, err: err}
}

// healthErrorText is what an unauthenticated caller may see about a failed
// check: a timeout, or the message of an *ims.Error. Anything else may hold
// addresses or internals, so it is only logged (once per run of the checks,
// with the id of the request that started the run).
func (s *Server) healthErrorText(ctx context.Context, name string, err error) string {
	s.logger.LogAttrs(ctx, slog.LevelWarn, "health check failed",
		slog.String("request_id", RequestIDFromContext(ctx)),
		slog.String("component", name), slog.Any("error", err))
	var e *ims.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out after " + s.healthTimeout.String()
	case errors.As(err, &e):
		return e.Message
	default:
		return "check failed"
	}
}

// worseHealth folds one failed component into the overall status.
func worseHealth(current string, required bool) string {
	if required {
		return healthDown
	}
	if current == healthOK {
		return healthDegraded
	}
	return current
}
