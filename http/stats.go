package http

import (
	"net/http"

	"github.com/insiderone/ims"
)

// StatsSource gives GET /api/stats its figures. It must answer from memory
// (caches and counters, as stats.Overview does): consoles poll it.
type StatsSource interface {
	Stats() ims.Stats
}

// statsResponse is ims.Stats with durations as Go duration strings, like
// GET /api/control.
type statsResponse struct {
	ims.Stats
	Rates     statsRates    `json:"rates"`
	Scheduler controlStatus `json:"scheduler"`
}

type statsRates struct {
	ims.DeliveryRates
	Window string `json:"window"`
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	if err := noQuery(r); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if s.deps.Stats == nil {
		writeError(w, r, s.logger, ims.Errorf(ims.EUNAVAILABLE, "stats are not available on this server"))
		return
	}
	writeJSON(w, r, s.logger, http.StatusOK, newStatsResponse(s.deps.Stats.Stats()))
}

func newStatsResponse(st ims.Stats) statsResponse {
	return statsResponse{
		Stats:     st,
		Rates:     statsRates{DeliveryRates: st.Rates, Window: st.Rates.Window.String()},
		Scheduler: newControlStatus(st.Scheduler),
	}
}
