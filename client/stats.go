package client

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/insiderone/ims"
)

// statsJSON is the JSON of GET /api/stats: ims.Stats with the rate window
// and the scheduler's interval as Go duration strings.
type statsJSON struct {
	ims.Stats
	Rates struct {
		ims.DeliveryRates
		Window string `json:"window"`
	} `json:"rates"`
	Scheduler controlStatus `json:"scheduler"`
}

// Stats returns the console's overview: messages per status (a cached
// fleet-wide count, see RefreshedAt), this instance's delivery rates, the
// recent webhook outcome and the scheduler state. It costs the server no
// database query, so it is safe to poll.
func (c *Client) Stats(ctx context.Context) (ims.Stats, error) {
	cl := call{method: http.MethodGet, path: "/api/stats"}
	var out statsJSON
	if _, err := c.do(ctx, cl, &out); err != nil {
		return ims.Stats{}, err
	}
	return out.decode(cl)
}

// decode turns the durations back into time.Duration.
func (out statsJSON) decode(cl call) (ims.Stats, error) {
	st := out.Stats
	st.Rates = out.Rates.DeliveryRates
	if out.Rates.Window != "" {
		d, err := time.ParseDuration(out.Rates.Window)
		if err != nil {
			return ims.Stats{}, decodeError(cl, fmt.Errorf("rates window %q: %w", out.Rates.Window, err))
		}
		st.Rates.Window = d
	}
	sched, err := out.Scheduler.decode()
	if err != nil {
		return ims.Stats{}, decodeError(cl, err)
	}
	st.Scheduler = sched
	return st, nil
}
