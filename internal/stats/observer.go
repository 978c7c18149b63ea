package stats

import (
	"errors"
	"time"

	"github.com/insiderone/ims"
)

// Observer feeds an Outcomes tracker, a FailureLog and the console's Series
// from the scheduler's events; it implements scheduler.Observer. Any may be
// nil.
type Observer struct {
	Outcomes *Outcomes
	Failures *FailureLog
	Series   *Series
}

// Delivered records a decided delivery.
func (o Observer) Delivered(out ims.Outcome) {
	if o.Outcomes != nil {
		o.Outcomes.Observe(out)
	}
	if o.Failures != nil {
		o.Failures.Observe(out)
	}
	if o.Series != nil {
		o.Series.Observe(out)
	}
}

// Claimed, Recorded and StaleClaim are of no interest here.
func (Observer) Claimed(int)                        {}
func (Observer) Recorded(int, time.Duration, error) {}
func (Observer) StaleClaim()                        {}

// Overview assembles ims.Stats from the caches; it implements the source of
// GET /api/stats. Scheduler must answer from memory
// (scheduler.Scheduler.LocalStatus does).
type Overview struct {
	Counts    *Counts
	Outcomes  *Outcomes
	Scheduler func() ims.SchedulerStatus
	// History feeds the console's charts; nil gives empty ones.
	History *Series
	// Fleet lists the instances for the console; nil gives none.
	Fleet *Fleet
}

// Instances returns the cached list of the fleet; it never queries the
// database (Fleet.Run does, once per heartbeat).
func (o Overview) Instances() FleetSnapshot {
	if o.Fleet == nil {
		return FleetSnapshot{Err: ErrNotListed}
	}
	return o.Fleet.Snapshot()
}

// SeriesStep is the width of one point of the console's charts: 180
// points over the 15 minutes.
const SeriesStep = 5 * time.Second

// Series returns the console's 15-minute series; it never queries the
// database either.
func (o Overview) Series() SeriesSnapshot {
	if o.History == nil {
		return NewSeries(nil).Snapshot(SeriesStep)
	}
	return o.History.Snapshot(SeriesStep)
}

// Stats returns the overview; it never queries the database.
func (o Overview) Stats() ims.Stats {
	snap := o.Counts.Snapshot()
	st := ims.Stats{
		Counts:    snap.Counts,
		Rates:     o.Outcomes.Rates(),
		Webhook:   o.Outcomes.Webhook(),
		Scheduler: o.Scheduler(),
	}
	if st.Counts == nil {
		st.Counts = map[ims.Status]int64{}
	}
	if !snap.RefreshedAt.IsZero() {
		at := snap.RefreshedAt.UTC()
		st.RefreshedAt = &at
	}
	// The cause may name hosts and internals: it is in the log, not here.
	switch {
	case errors.Is(snap.Err, ErrNotCounted):
		st.CountError = ErrNotCounted.Error()
	case snap.Err != nil:
		st.CountError = "the latest count failed (see the server log); counts are as of refreshed_at"
	}
	return st
}
