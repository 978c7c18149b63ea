package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/insiderone/ims"
)

// defaultHealthCheckTimeout bounds each health check, so a hung dependency
// makes /api/health say "down" quickly instead of hanging the prober.
const defaultHealthCheckTimeout = 2 * time.Second

// Health statuses.
const (
	healthOK       = "ok"
	healthDegraded = "degraded"
	healthDown     = "down"
	componentUp    = "up"
	componentDown  = "down"
)

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

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	results := s.runHealthChecks(r)
	resp := healthResponse{Status: healthOK, Version: s.cfg.Version, Components: map[string]componentHealth{}}
	for i, hc := range s.deps.Health {
		c := componentHealth{Status: componentUp, Required: hc.Required, Detail: results[i].detail}
		if err := results[i].err; err != nil {
			c.Status, c.Error = componentDown, s.healthErrorText(r, hc.Name, err)
			resp.Status = worseHealth(resp.Status, hc.Required)
		}
		resp.Components[hc.Name] = c
	}
	status := http.StatusOK
	if resp.Status == healthDown {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, r, s.logger, status, resp)
}

// runHealthChecks runs every check concurrently. A check that ignores its
// context is not waited for past the timeout: it is reported as timed out
// and its goroutine ends on its own into a buffered channel.
func (s *Server) runHealthChecks(r *http.Request) []checkResult {
	ctx, cancel := context.WithTimeout(r.Context(), s.healthTimeout)
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
// addresses or internals, so it is only logged.
func (s *Server) healthErrorText(r *http.Request, name string, err error) string {
	s.logger.LogAttrs(r.Context(), slog.LevelWarn, "health check failed",
		slog.String("request_id", RequestIDFromContext(r.Context())),
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
