package http

import (
	"net/http"

	"github.com/insiderone/ims"
)

// controlStatus is ims.SchedulerStatus with its interval as a Go duration
// string ("2m0s"), which reads better than nanoseconds.
type controlStatus struct {
	ims.SchedulerStatus
	Interval string `json:"interval"`
}

func newControlStatus(st ims.SchedulerStatus) controlStatus {
	return controlStatus{SchedulerStatus: st, Interval: st.Interval.String()}
}

type controlRequest struct {
	Action string `json:"action"`
}

// Scheduler actions accepted by POST /api/control.
const (
	actionStart = "start"
	actionStop  = "stop"
)

func (s *Server) handleGetControl(w http.ResponseWriter, r *http.Request) {
	if err := noQuery(r); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	st, err := s.deps.Scheduler.Status(r.Context())
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, r, s.logger, http.StatusOK, newControlStatus(st))
}

func (s *Server) handlePostControl(w http.ResponseWriter, r *http.Request) {
	var in controlRequest
	err := noQuery(r)
	if err == nil {
		err = decodeJSON(r, &in)
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	var st ims.SchedulerStatus
	switch in.Action {
	case actionStart:
		st, err = s.deps.Scheduler.StartFleet(r.Context(), actor(r))
	case actionStop:
		st, err = s.deps.Scheduler.StopFleet(r.Context(), actor(r))
	default:
		// An unknown action is a request we do not understand: 400.
		err = &ims.Error{Code: ims.EINVALID, Message: "unknown action",
			Details: map[string]any{"action": "must be one of: start, stop", "accepted": []string{actionStart, actionStop}}}
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, r, s.logger, http.StatusOK, newControlStatus(st))
}
