package client

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/insiderone/ims"
)

// controlStatus is the JSON of GET/POST /api/control: ims.SchedulerStatus
// with its interval as a Go duration string ("2m0s").
type controlStatus struct {
	ims.SchedulerStatus
	Interval string `json:"interval"`
}

// ControlStatus returns the fleet-wide scheduler state: running or not, its
// interval and batch size, the queue mode and which instance leads.
func (c *Client) ControlStatus(ctx context.Context) (ims.SchedulerStatus, error) {
	return c.control(ctx, call{method: http.MethodGet, path: "/api/control"})
}

// Start starts the scheduler of every instance; the state is stored, so it
// holds across restarts.
func (c *Client) Start(ctx context.Context) (ims.SchedulerStatus, error) {
	return c.control(ctx, controlAction("start"))
}

// Stop stops the scheduler of every instance: no new claims anywhere, and
// deliveries in flight finish.
func (c *Client) Stop(ctx context.Context) (ims.SchedulerStatus, error) {
	return c.control(ctx, controlAction("stop"))
}

func controlAction(action string) call {
	return call{method: http.MethodPost, path: "/api/control", body: map[string]string{"action": action}}
}

func (c *Client) control(ctx context.Context, cl call) (ims.SchedulerStatus, error) {
	var out controlStatus
	if _, err := c.do(ctx, cl, &out); err != nil {
		return ims.SchedulerStatus{}, err
	}
	st, err := out.decode()
	if err != nil {
		return ims.SchedulerStatus{}, decodeError(cl, err)
	}
	return st, nil
}

// decode turns the interval string back into a duration.
func (cs controlStatus) decode() (ims.SchedulerStatus, error) {
	st := cs.SchedulerStatus
	if cs.Interval != "" {
		d, err := time.ParseDuration(cs.Interval)
		if err != nil {
			return ims.SchedulerStatus{}, fmt.Errorf("interval %q: %w", cs.Interval, err)
		}
		st.Interval = d
	}
	return st, nil
}
