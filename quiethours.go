package ims

import (
	"fmt"
	"sync"
	"time"
)

// QuietHours is the QUIET_HOURS rule: no message is sent while the
// recipient's local time is inside the window [Start, End). A window whose
// start is after its end wraps midnight (21:00-08:00). The zero value is
// off.
type QuietHours struct {
	// Start and End are minutes after local midnight.
	Start, End int
	// DefaultTZ is QUIET_HOURS_DEFAULT_TZ: the zone of a number whose
	// country has several and that does not map to one of them.
	DefaultTZ *time.Location
	// High holds priority high messages too (QUIET_HOURS_HIGH); by default
	// they are exempt: a one-time password must not wait for the morning.
	High bool
	on   bool
	// zones caches loaded time zones: loading one parses the tz database,
	// and the rule runs on the create and delivery hot paths.
	zones *zoneCache
}

// ParseQuietHours reads QUIET_HOURS ("HH:MM-HH:MM", "" for off) with its
// default zone (an IANA name, "" for UTC) and QUIET_HOURS_HIGH.
func ParseQuietHours(window, defaultTZ string, high bool) (QuietHours, error) {
	q := QuietHours{High: high, DefaultTZ: time.UTC, zones: &zoneCache{m: map[string]*time.Location{}}}
	if defaultTZ != "" {
		loc, err := time.LoadLocation(defaultTZ)
		if err != nil {
			return QuietHours{}, fmt.Errorf("QUIET_HOURS_DEFAULT_TZ must be an IANA time zone such as Europe/Istanbul, got %q", defaultTZ)
		}
		q.DefaultTZ = loc
	}
	if window == "" {
		return q, nil
	}
	var sh, sm, eh, em int
	var rest string
	n, _ := fmt.Sscanf(window+"|", "%d:%d-%d:%d%s", &sh, &sm, &eh, &em, &rest)
	if n != 5 || rest != "|" || len(window) != len("21:00-08:00") || !clockOK(sh, sm) || !clockOK(eh, em) {
		return QuietHours{}, fmt.Errorf("QUIET_HOURS must be a local-time window HH:MM-HH:MM such as 21:00-08:00, or empty for none, got %q", window)
	}
	q.Start, q.End, q.on = sh*60+sm, eh*60+em, true
	if q.Start == q.End {
		return QuietHours{}, fmt.Errorf("QUIET_HOURS must not start and end at the same time (a window of no time or of all day), got %q", window)
	}
	return q, nil
}

func clockOK(h, m int) bool { return h >= 0 && h < 24 && m >= 0 && m < 60 }

// Enabled reports whether a window is set.
func (q QuietHours) Enabled() bool { return q.on }

// String is the window as QUIET_HOURS spells it.
func (q QuietHours) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.Start/60, q.Start%60, q.End/60, q.End%60)
}

// Applies reports whether the window holds a message of priority p that
// did (honour) or did not opt out with "quiet_hours": false.
func (q QuietHours) Applies(p Priority, honour bool) bool {
	return q.on && honour && (p != PriorityHigh || q.High)
}

// Location is the zone named tz, or DefaultTZ when tz is "" or unknown.
func (q QuietHours) Location(tz string) *time.Location {
	def := q.DefaultTZ
	if def == nil {
		def = time.UTC
	}
	if tz == "" || q.zones == nil {
		return def
	}
	return q.zones.load(tz, def)
}

// WindowEnd reports whether now, in loc, is inside the window, and if so
// the instant it ends. Wall-clock time decides, so on a day a clock is put
// forward or back the window still opens and closes at its local times;
// an end that falls in a skipped hour is the first instant after the jump.
func (q QuietHours) WindowEnd(now time.Time, loc *time.Location) (time.Time, bool) {
	if !q.on {
		return time.Time{}, false
	}
	local := now.In(loc)
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	var day int // days after today the window ends, -1 when outside
	switch {
	case q.Start < q.End && m >= q.Start && m < q.End:
		day = 0
	case q.Start > q.End && m >= q.Start:
		day = 1
	case q.Start > q.End && m < q.End:
		day = 0
	default:
		return time.Time{}, false
	}
	end := time.Date(y, mo, d+day, q.End/60, q.End%60, 0, 0, loc)
	if wall := end.Hour()*60 + end.Minute(); wall != q.End {
		// The end's local time does not exist that day (the clock jumped
		// over it) and time.Date picked a time on one side of the jump:
		// the window ends where the jump is.
		zoneStart, zoneEnd := end.ZoneBounds()
		if wall < q.End {
			end = zoneEnd
		} else {
			end = zoneStart
		}
	}
	if !end.After(now) {
		return time.Time{}, false
	}
	return end.UTC(), true
}

// Deferral is what quiet hours decide for a message due at some instant:
// nothing (the zero value), hold it until Until, or expire it now because
// its expiry comes before the window ends.
type Deferral struct {
	Until  time.Time
	Expire bool
	// Details is the audit text: the window, the zone, the new due time.
	Details string
}

// Deferred reports whether quiet hours hold the message (or expire it).
func (d Deferral) Deferred() bool { return !d.Until.IsZero() }

// Defer decides for a message of priority p, honouring quiet hours or not,
// with recipient zone tz and expiry expiresAt, that is due at due.
func (q QuietHours) Defer(due time.Time, tz string, p Priority, honour bool, expiresAt *time.Time) Deferral {
	if !q.Applies(p, honour) {
		return Deferral{}
	}
	loc := q.Location(tz)
	end, in := q.WindowEnd(due, loc)
	if !in {
		return Deferral{}
	}
	end = end.Truncate(time.Microsecond)
	window := fmt.Sprintf("quiet hours %s in %s (local time %s)", q, loc, due.In(loc).Format("15:04"))
	if ExpireInsteadOfRetry(expiresAt, end) {
		return Deferral{Until: end, Expire: true, Details: fmt.Sprintf("%s end at %s, after its expiry %s",
			window, end.Format(time.RFC3339), expiresAt.UTC().Format(time.RFC3339))}
	}
	return Deferral{Until: end, Details: fmt.Sprintf("%s: next attempt at %s (%s local)",
		window, end.Format(time.RFC3339), end.In(loc).Format("15:04"))}
}

// DeferMessage is Defer for a claimed message at now.
func (q QuietHours) DeferMessage(m Message, now time.Time) Deferral {
	return q.Defer(now, m.TimeZone, m.Priority, m.QuietHours, m.ExpiresAt)
}

// DeferredClaim is a claim handed back because quiet hours hold it.
type DeferredClaim struct {
	Claim    Claim
	Deferral Deferral
}

// Write is what recording a DeferredClaim writes, decided here for
// both stores: back to pending due at the window's end, or expired; the
// attempt refunded either way (no call was made).
func (d DeferredClaim) Write() (t Transition, details string) {
	if d.Deferral.Expire {
		return TransitionExpire, ExpiredDecision(ExpiryQuietHours).Reason + "; " + d.Deferral.Details
	}
	return TransitionDefer, d.Deferral.Details
}

// zoneCache keeps the zones loaded so far. The set of zones is bounded by
// the tz database (a few hundred names), so it needs no eviction.
type zoneCache struct {
	mu sync.RWMutex
	m  map[string]*time.Location
}

func (c *zoneCache) load(name string, def *time.Location) *time.Location {
	c.mu.RLock()
	loc, ok := c.m[name]
	c.mu.RUnlock()
	if ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = def
	}
	c.mu.Lock()
	c.m[name] = loc
	c.mu.Unlock()
	return loc
}

// CreatePlan is how a create stores nm at now, as quiet hours decided
// (nm.Deferral): pending and due at its send_at or now, the common case;
// pending and due at the window's end with a message.deferred event; or
// expired at once with a message.expired event saying why. The extra event
// follows message.created. Both stores apply it.
type CreatePlan struct {
	Status       Status
	Due          time.Time
	Event        string // "" when there is none besides message.created
	EventDetails string
}

// PlanCreate decides the CreatePlan of nm created at now.
func (nm NewMessage) PlanCreate(now time.Time) CreatePlan {
	p := CreatePlan{Status: TransitionCreate.To, Due: now}
	if nm.SendAt != nil {
		p.Due = *nm.SendAt
	}
	switch d := nm.Deferral; {
	case !d.Deferred():
	case d.Expire:
		p.Status, p.Event = TransitionExpire.To, TransitionExpire.Event
		p.EventDetails = ExpiredDecision(ExpiryQuietHours).Reason + "; " + d.Details
	default:
		p.Due, p.Event, p.EventDetails = d.Until, EventMessageDeferred, d.Details
	}
	p.Due = p.Due.UTC().Truncate(time.Microsecond)
	return p
}
