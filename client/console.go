package client

import (
	"context"
	"net/http"
	"time"

	"github.com/insiderone/ims"
)

// Console is GET /api/console: the overview of Stats plus what the
// operator console draws. Like Stats it costs the server no query.
type Console struct {
	ims.Stats
	// GeneratedAt is when the server assembled the snapshot.
	GeneratedAt time.Time
	// Backlog is pending + sending as of RefreshedAt.
	Backlog int64
	Series  ConsoleSeries
	// Instances are the instances sharing the database, by ID, from their
	// heartbeats; InstancesError says why the list is missing or old.
	Instances      []ConsoleInstance
	InstancesError string
}

// ConsoleInstance is one instance of the fleet. Stale is true when it has
// missed its heartbeats (likely gone); Self marks the instance that
// answered.
type ConsoleInstance struct {
	ims.Instance
	Stale bool `json:"stale"`
	Self  bool `json:"self"`
}

// ConsoleSeries is the last 15 minutes of this instance, oldest point
// first, each point StepSeconds wide and the last one ending at End. A
// latency or backlog is nil where nothing was measured.
type ConsoleSeries struct {
	End         time.Time  `json:"end"`
	StepSeconds int        `json:"step_seconds"`
	Delivered   []float64  `json:"delivered_per_second"`
	Retried     []float64  `json:"retried_per_second"`
	Dead        []float64  `json:"dead_per_second"`
	Expired     []float64  `json:"expired_per_second"`
	LatencyP50  []*float64 `json:"latency_p50_ms"`
	LatencyP95  []*float64 `json:"latency_p95_ms"`
	Backlog     []*int64   `json:"backlog"`
}

// Console returns the console's snapshot. GET /api/console/stream sends the
// same JSON every second as Server-Sent Events; it is for browsers and is
// not wrapped here.
func (c *Client) Console(ctx context.Context) (Console, error) {
	cl := call{method: http.MethodGet, path: "/api/console"}
	var out struct {
		statsJSON
		GeneratedAt    time.Time         `json:"generated_at"`
		Backlog        int64             `json:"backlog"`
		Series         ConsoleSeries     `json:"series"`
		Instances      []ConsoleInstance `json:"instances"`
		InstancesError string            `json:"instances_error"`
	}
	if _, err := c.do(ctx, cl, &out); err != nil {
		return Console{}, err
	}
	st, err := out.statsJSON.decode(cl)
	if err != nil {
		return Console{}, err
	}
	return Console{Stats: st, GeneratedAt: out.GeneratedAt, Backlog: out.Backlog, Series: out.Series,
		Instances: out.Instances, InstancesError: out.InstancesError}, nil
}
