package postgres

import (
	"time"

	"github.com/insiderone/ims"
)

// smsColumns are the per-message arrays createSQL takes for the SMS-native
// fields and for what quiet hours decided (ims.CreatePlan).
type smsColumns struct {
	statuses, encodings, countries, zones, events, eventDetails []string
	segments                                                    []int32
	quiet                                                       []bool
}

func newSMSColumns(n int) *smsColumns {
	return &smsColumns{
		statuses: make([]string, n), encodings: make([]string, n), countries: make([]string, n), zones: make([]string, n),
		events: make([]string, n), eventDetails: make([]string, n), segments: make([]int32, n), quiet: make([]bool, n),
	}
}

// set fills row i from nm and returns its next_attempt_at.
func (c *smsColumns) set(i int, nm ims.NewMessage, now time.Time) time.Time {
	if nm.Segments == 0 { // built by hand: store what a create would
		si := ims.Segment(nm.Content)
		nm.Encoding, nm.Segments = si.Encoding, si.Segments
	}
	p := nm.PlanCreate(now)
	c.statuses[i], c.events[i], c.eventDetails[i] = string(p.Status), p.Event, p.EventDetails
	c.encodings[i], c.segments[i], c.countries[i], c.zones[i] = string(nm.Encoding), int32(nm.Segments), nm.Country, nm.TimeZone
	c.quiet[i] = !nm.QuietHoursOptOut
	return p.Due
}
