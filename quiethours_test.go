package ims_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func mustQuiet(t *testing.T, window, tz string, high bool) ims.QuietHours {
	t.Helper()
	q, err := ims.ParseQuietHours(window, tz, high)
	require.NoError(t, err)
	return q
}

func TestParseQuietHours(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, window, tz string
		wantErr          string
		want             string // String() when enabled
	}{
		{name: "off", window: ""},
		{name: "wraps midnight", window: "21:00-08:00", want: "21:00-08:00"},
		{name: "same day", window: "12:30-14:00", want: "12:30-14:00"},
		{name: "default zone", window: "21:00-08:00", tz: "Europe/Istanbul", want: "21:00-08:00"},
		{name: "bad zone", window: "21:00-08:00", tz: "Mars/Olympus", wantErr: "QUIET_HOURS_DEFAULT_TZ"},
		{name: "no minutes", window: "21-08", wantErr: "HH:MM-HH:MM"},
		{name: "hour out of range", window: "25:00-08:00", wantErr: "HH:MM-HH:MM"},
		{name: "trailing text", window: "21:00-08:00x", wantErr: "HH:MM-HH:MM"},
		{name: "single digit hour", window: "9:00-17:00", wantErr: "HH:MM-HH:MM"},
		{name: "empty window", window: "08:00-08:00", wantErr: "same time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := ims.ParseQuietHours(tt.window, tt.tz, false)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want != "", q.Enabled())
			if tt.want != "" {
				require.Equal(t, tt.want, q.String())
			}
		})
	}
}

func TestQuietHoursWindowEnd(t *testing.T) {
	t.Parallel()
	zone := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		require.NoError(t, err)
		return loc
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		name, window, zone, now string
		want                    string // "" = outside the window
	}{
		// Istanbul is UTC+3 all year.
		{name: "Istanbul evening inside a wrapping window", window: "21:00-08:00", zone: "Europe/Istanbul",
			now: "2026-06-10T19:30:00Z", want: "2026-06-11T05:00:00Z"},
		{name: "Istanbul early morning inside", window: "21:00-08:00", zone: "Europe/Istanbul",
			now: "2026-06-10T02:00:00Z", want: "2026-06-10T05:00:00Z"},
		{name: "Istanbul at the window's end is outside", window: "21:00-08:00", zone: "Europe/Istanbul",
			now: "2026-06-10T05:00:00Z"},
		{name: "Istanbul one second before the end is inside", window: "21:00-08:00", zone: "Europe/Istanbul",
			now: "2026-06-10T04:59:59Z", want: "2026-06-10T05:00:00Z"},
		{name: "Istanbul at the window's start is inside", window: "21:00-08:00", zone: "Europe/Istanbul",
			now: "2026-06-10T18:00:00Z", want: "2026-06-11T05:00:00Z"},
		{name: "Istanbul afternoon is outside", window: "21:00-08:00", zone: "Europe/Istanbul",
			now: "2026-06-10T12:00:00Z"},
		{name: "Tokyo same-day window", window: "12:00-13:00", zone: "Asia/Tokyo",
			now: "2026-06-10T03:15:00Z", want: "2026-06-10T04:00:00Z"},
		{name: "Tokyo after a same-day window", window: "12:00-13:00", zone: "Asia/Tokyo",
			now: "2026-06-10T04:00:00Z"},
		{name: "Tokyo crosses the UTC date", window: "21:00-08:00", zone: "Asia/Tokyo",
			now: "2026-06-10T22:00:00Z", want: "2026-06-10T23:00:00Z"},
		// New York springs forward on 2026-03-08 at 02:00 EST (07:00Z): the
		// window's 08:00 end is EDT (12:00Z), not EST (13:00Z).
		{name: "New York across spring forward", window: "21:00-08:00", zone: "America/New_York",
			now: "2026-03-08T03:00:00Z", want: "2026-03-08T12:00:00Z"},
		// It falls back on 2026-11-01 at 02:00 EDT (06:00Z): 08:00 EST is 13:00Z.
		{name: "New York across fall back", window: "21:00-08:00", zone: "America/New_York",
			now: "2026-11-01T02:00:00Z", want: "2026-11-01T13:00:00Z"},
		// A window ending in the skipped hour (02:30 does not exist on
		// 2026-03-08) ends where the clock jumps: 03:00 EDT.
		{name: "New York end in the skipped hour", window: "01:00-02:30", zone: "America/New_York",
			now: "2026-03-08T06:30:00Z", want: "2026-03-08T07:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustQuiet(t, tt.window, "", false)
			end, in := q.WindowEnd(at(tt.now), zone(tt.zone))
			if tt.want == "" {
				require.False(t, in, "ends %s", end)
				return
			}
			require.True(t, in)
			require.Equal(t, at(tt.want), end)
		})
	}
}

func TestQuietHoursDefer(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 10, 19, 30, 0, 0, time.UTC) // 22:30 in Istanbul, 20:30 in London
	end := time.Date(2026, 6, 11, 5, 0, 0, 0, time.UTC)   // 08:00 in Istanbul
	soon, late := now.Add(time.Hour), end.Add(time.Hour)
	tests := []struct {
		name     string
		high     bool
		tz       string
		priority ims.Priority
		honour   bool
		expires  *time.Time
		until    time.Time
		expire   bool
		details  string
	}{
		{name: "held until the window's end", tz: "Europe/Istanbul", priority: ims.PriorityNormal, honour: true,
			until: end, details: "quiet hours 21:00-08:00 in Europe/Istanbul (local time 22:30): next attempt at 2026-06-11T05:00:00Z (08:00 local)"},
		{name: "another zone is outside", tz: "Europe/London", priority: ims.PriorityNormal, honour: true},
		{name: "no zone uses the default", tz: "", priority: ims.PriorityNormal, honour: true, until: end},
		{name: "unknown zone uses the default", tz: "Nowhere/Land", priority: ims.PriorityNormal, honour: true, until: end},
		{name: "opted out", tz: "Europe/Istanbul", priority: ims.PriorityNormal, honour: false},
		{name: "high is exempt", tz: "Europe/Istanbul", priority: ims.PriorityHigh, honour: true},
		{name: "high is held with QUIET_HOURS_HIGH", high: true, tz: "Europe/Istanbul", priority: ims.PriorityHigh, honour: true, until: end},
		{name: "low is held", tz: "Europe/Istanbul", priority: ims.PriorityLow, honour: true, until: end},
		{name: "an expiry inside the window expires it now", tz: "Europe/Istanbul", priority: ims.PriorityNormal, honour: true,
			expires: &soon, until: end, expire: true, details: "end at 2026-06-11T05:00:00Z, after its expiry 2026-06-10T20:30:00Z"},
		{name: "an expiry after the window holds it", tz: "Europe/Istanbul", priority: ims.PriorityNormal, honour: true,
			expires: &late, until: end},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustQuiet(t, "21:00-08:00", "Europe/Istanbul", tt.high)
			d := q.Defer(now, tt.tz, tt.priority, tt.honour, tt.expires)
			require.Equal(t, tt.until, d.Until)
			require.Equal(t, tt.expire, d.Expire)
			require.Equal(t, !tt.until.IsZero(), d.Deferred())
			require.True(t, strings.Contains(d.Details, tt.details), "details %q", d.Details)
		})
	}
}

func TestQuietHoursOff(t *testing.T) {
	t.Parallel()
	var zero ims.QuietHours
	require.False(t, zero.Defer(time.Now(), "Europe/Istanbul", ims.PriorityNormal, true, nil).Deferred())
	require.Equal(t, time.UTC, zero.Location("Europe/Istanbul"))
}

func TestDeferredClaimWrite(t *testing.T) {
	t.Parallel()
	tr, details := ims.DeferredClaim{Deferral: ims.Deferral{Until: time.Now(), Details: "d"}}.Write()
	require.Equal(t, ims.TransitionDefer, tr)
	require.Equal(t, "d", details)
	tr, details = ims.DeferredClaim{Deferral: ims.Deferral{Until: time.Now(), Expire: true, Details: "d"}}.Write()
	require.Equal(t, ims.TransitionExpire, tr)
	require.Equal(t, "expired: quiet_hours; d", details)
}
