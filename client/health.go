package client

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/insiderone/ims"
)

// Overall statuses of Health.Status.
const (
	HealthOK       = "ok"       // every component is up
	HealthDegraded = "degraded" // an optional component (e.g. the cache) is down
	HealthDown     = "down"     // a required component is down; the server answers 503
)

// Health is the answer of GET /api/health.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	// Components are keyed by name: "database", "queue", "cache", "scheduler".
	Components map[string]Component `json:"components"`
}

// Component is one dependency in Health.
type Component struct {
	Status   string `json:"status"` // "up" or "down"
	Required bool   `json:"required"`
	Detail   string `json:"detail,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Health asks the service how it and its components are. It needs no API
// key. When a required component is down the server answers 503: Health then
// returns the report together with an EUNAVAILABLE *ims.Error naming the
// components that are down, so that a probe can both fail and say why.
func (c *Client) Health(ctx context.Context) (Health, error) {
	cl := call{method: http.MethodGet, path: "/api/health"}
	resp, err := c.send(ctx, cl)
	if err != nil {
		return Health{}, err
	}
	var h Health
	switch {
	case resp.status == http.StatusOK:
		if err := json.Unmarshal(resp.body, &h); err != nil {
			return Health{}, decodeError(cl, err)
		}
		return h, nil
	case resp.status == http.StatusServiceUnavailable && json.Unmarshal(resp.body, &h) == nil && h.Status != "":
		return h, downError(h)
	default:
		return Health{}, responseError(cl, resp)
	}
}

// downError says which components make the service down.
func downError(h Health) *ims.Error {
	down := map[string]string{}
	for name, comp := range h.Components {
		if comp.Status != "up" {
			down[name] = comp.Error
		}
	}
	names := make([]string, 0, len(down))
	for name := range down {
		names = append(names, name)
	}
	sort.Strings(names)
	msg := "service is " + h.Status
	if len(names) > 0 {
		msg += ": " + strings.Join(names, ", ") + " down"
	}
	return &ims.Error{Code: ims.EUNAVAILABLE, Message: msg, Details: down}
}

// OpenAPI returns the service's OpenAPI 3 document as served, unparsed. It
// needs no API key.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/api/openapi.json"}, nil)
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}
