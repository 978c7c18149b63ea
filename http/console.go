package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/stats"
)

// ConsoleSource gives the operator console its figures: the overview of
// GET /api/stats and the 15-minute series of the charts. Both must answer
// from memory (stats.Overview does): the console's producer asks once a
// second, whatever the number of viewers.
type ConsoleSource interface {
	StatsSource
	Series() stats.SeriesSnapshot
	// Instances is the cached list of the fleet (stats.Fleet keeps it).
	Instances() stats.FleetSnapshot
}

// consoleSnapshot is GET /api/console and each event of its stream:
// everything the console page shows that is not a list.
type consoleSnapshot struct {
	statsResponse
	// GeneratedAt is when this snapshot was assembled; the page compares
	// it with its own clock to tell a stale view.
	GeneratedAt time.Time `json:"generated_at"`
	// Backlog is pending + sending as of refreshed_at.
	Backlog int64                `json:"backlog"`
	Series  stats.SeriesSnapshot `json:"series"`
	// Instances are the instances sharing the database, by ID, as of their
	// last heartbeats; InstancesError says why the list is missing or old.
	Instances      []consoleInstance `json:"instances"`
	InstancesError string            `json:"instances_error,omitempty"`
}

// consoleInstance is one instance of the fleet as the console shows it.
type consoleInstance struct {
	ims.Instance
	// Stale is true when the instance missed its last heartbeats
	// (ims.InstanceStale at generated_at): it is likely gone.
	Stale bool `json:"stale"`
	// Self marks the instance that served this snapshot.
	Self bool `json:"self"`
}

// consoleInstances judges each instance's staleness at now.
func consoleInstances(snap stats.FleetSnapshot, self string, now time.Time) ([]consoleInstance, string) {
	out := make([]consoleInstance, len(snap.Instances))
	for i, in := range snap.Instances {
		out[i] = consoleInstance{Instance: in, Stale: ims.InstanceStale(in.LastSeen, now), Self: in.ID == self}
	}
	switch {
	case errors.Is(snap.Err, stats.ErrNotListed):
		return out, snap.Err.Error()
	case snap.Err != nil:
		// The cause may name hosts: it is in the log, not here.
		return out, "the latest heartbeat failed (see the server log); the list is as of the one before"
	}
	return out, ""
}

// consoleSnapshotJSON assembles and encodes one snapshot.
func (s *Server) consoleSnapshotJSON() ([]byte, error) {
	st := s.deps.Console.Stats()
	now := s.now().UTC()
	snap := consoleSnapshot{
		statsResponse: newStatsResponse(st),
		GeneratedAt:   now,
		Backlog:       st.Counts[ims.StatusPending] + st.Counts[ims.StatusSending],
		Series:        s.deps.Console.Series(),
	}
	snap.Instances, snap.InstancesError = consoleInstances(s.deps.Console.Instances(), st.Scheduler.Instance, now)
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("encode console snapshot: %w", err)
	}
	return b, nil
}

// handleConsole serves the latest snapshot: the producer's when it runs
// (no work per request at all), else one assembled from memory.
func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request) {
	if err := noQuery(r); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if s.deps.Console == nil {
		writeError(w, r, s.logger, ims.Errorf(ims.EUNAVAILABLE, "the console's figures are not available on this server"))
		return
	}
	b := s.live.latest()
	if b == nil {
		var err error
		if b, err = s.consoleSnapshotJSON(); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, r, s.logger, http.StatusOK, json.RawMessage(b))
}
