package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// report builds a validated delivery report for provider id pid.
func report(pid string, status ims.DeliveryStatus, at time.Time, code string) ims.DeliveryReport {
	reported := string(status)
	return ims.DeliveryReport{ProviderMessageID: pid, Status: status, Reported: reported, ErrorCode: code,
		At: micro(at), Timestamped: true, ReceivedAt: micro(at)}
}

func (f *fixture) reports(t *testing.T, rs ...ims.DeliveryReport) []ims.ReportOutcome {
	t.Helper()
	res, err := f.s.RecordDeliveryReports(f.ctx, rs, "dlr:test")
	require.NoError(t, err)
	require.Len(t, res, len(rs))
	out := make([]ims.ReportOutcome, len(res))
	for i, r := range res {
		require.Equal(t, rs[i].ProviderMessageID, r.ProviderMessageID, "results are in input order")
		out[i] = r.Outcome
	}
	return out
}

// pid is the provider id the suite's sent outcome stores for m.
func pid(m ims.Message) string { return "prov-" + m.ID }

func testDeliveryReports(t *testing.T, open Opener) {
	t.Run("a report refines sent, keeps the status, writes its event", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.inState(t, ims.StatusSent)
		require.Equal(t, ims.DeliveryNone, m.DeliveryStatus)
		at := f.clock.Now().Add(-time.Second)
		require.Equal(t, []ims.ReportOutcome{ims.ReportApplied}, f.reports(t, report(pid(m), ims.DeliveryDelivered, at, "")))
		got := f.get(t, m.ID)
		require.Equal(t, ims.StatusSent, got.Status, "delivery_status never changes status")
		require.Equal(t, ims.DeliveryDelivered, got.DeliveryStatus)
		require.NotNil(t, got.DeliveredAt)
		requireTime(t, micro(at), *got.DeliveredAt)
		evs := f.events(t, ims.AuditFilter{MessageID: m.ID, Type: ims.EventMessageDeliveryReport})
		require.Len(t, evs, 1)
		require.Equal(t, "dlr:test", evs[0].Actor)
	})
	t.Run("a redelivered report is a duplicate and changes nothing", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.inState(t, ims.StatusSent)
		r := report(pid(m), ims.DeliveryUndelivered, f.clock.Now(), "EC21")
		require.Equal(t, []ims.ReportOutcome{ims.ReportApplied, ims.ReportDuplicate}, f.reports(t, r, r))
		require.Equal(t, []ims.ReportOutcome{ims.ReportDuplicate}, f.reports(t, r))
		got := f.get(t, m.ID)
		require.Equal(t, ims.DeliveryUndelivered, got.DeliveryStatus)
		require.Equal(t, "EC21", got.ErrorCode)
		require.Nil(t, got.DeliveredAt)
		require.Len(t, f.events(t, ims.AuditFilter{MessageID: m.ID, Type: ims.EventMessageDeliveryReport}), 1)
	})
	t.Run("a report without timestamp is the same report when repeated", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.inState(t, ims.StatusSent)
		r := report(pid(m), ims.DeliveryUndelivered, f.clock.Now(), "")
		r.Timestamped = false
		require.Equal(t, []ims.ReportOutcome{ims.ReportApplied}, f.reports(t, r))
		r.At = r.At.Add(time.Minute) // received later: no timestamp of its own
		require.Equal(t, []ims.ReportOutcome{ims.ReportDuplicate}, f.reports(t, r))
	})
	t.Run("provider ids are matched exactly", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.inState(t, ims.StatusSent)
		upper := "PROV-" + m.ID
		require.Equal(t, []ims.ReportOutcome{ims.ReportParked, ims.ReportParked},
			f.reports(t, report(upper, ims.DeliveryDelivered, f.clock.Now(), ""),
				report(pid(m)+" ", ims.DeliveryDelivered, f.clock.Now(), "")))
		require.Equal(t, ims.DeliveryNone, f.get(t, m.ID).DeliveryStatus)
	})
	t.Run("out of order reports end as ims.Supersedes says", func(t *testing.T) {
		t.Parallel()
		t0 := start.Add(-time.Hour)
		d := func(min int) ims.DeliveryReport {
			return ims.DeliveryReport{Status: ims.DeliveryDelivered, Reported: "delivered", At: micro(t0.Add(time.Duration(min) * time.Minute)), Timestamped: true}
		}
		u := func(min int, code string) ims.DeliveryReport {
			return ims.DeliveryReport{Status: ims.DeliveryUndelivered, Reported: "failed", ErrorCode: code, At: micro(t0.Add(time.Duration(min) * time.Minute)), Timestamped: true}
		}
		tests := []struct {
			name     string
			seq      []ims.DeliveryReport
			want     ims.DeliveryStatus
			wantCode string
		}{
			{"delivered then an older undelivered", []ims.DeliveryReport{d(2), u(1, "E1")}, ims.DeliveryDelivered, ""},
			{"delivered then a newer undelivered", []ims.DeliveryReport{d(2), u(3, "E1")}, ims.DeliveryDelivered, ""},
			{"undelivered then an older delivered", []ims.DeliveryReport{u(3, "E1"), d(1)}, ims.DeliveryDelivered, ""},
			{"undelivered then a newer undelivered", []ims.DeliveryReport{u(1, "E1"), u(2, "E2")}, ims.DeliveryUndelivered, "E2"},
			{"undelivered then an older undelivered", []ims.DeliveryReport{u(2, "E2"), u(1, "E1")}, ims.DeliveryUndelivered, "E2"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				f := setup(t, open)
				m := f.inState(t, ims.StatusSent)
				var state ims.DeliveryState
				for _, r := range tt.seq {
					r.ProviderMessageID, r.ReceivedAt = pid(m), f.now()
					want := ims.ReportIgnored
					if r.Supersedes(state) {
						want = ims.ReportApplied
						at := r.At
						state = ims.DeliveryState{Status: r.Status, ReportedAt: &at}
					}
					require.Equal(t, []ims.ReportOutcome{want}, f.reports(t, r), "the store agrees with ims.Supersedes")
				}
				got := f.get(t, m.ID)
				require.Equal(t, tt.want, got.DeliveryStatus)
				require.Equal(t, tt.wantCode, got.ErrorCode)
			})
		}
	})
	t.Run("a report before the provider id is parked and applied when the send is recorded", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.claimOne(t)
		at := f.clock.Now()
		require.Equal(t, []ims.ReportOutcome{ims.ReportParked, ims.ReportParked, ims.ReportDuplicate}, f.reports(t,
			report(pid(m), ims.DeliveryUndelivered, at.Add(-time.Minute), "E1"),
			report(pid(m), ims.DeliveryDelivered, at, ""),
			report(pid(m), ims.DeliveryDelivered, at, "")))
		require.Equal(t, ims.DeliveryNone, f.get(t, m.ID).DeliveryStatus)

		f.record(t, outcome(m, ims.StatusSent, f.clock.Now()))
		got := f.get(t, m.ID)
		require.Equal(t, ims.StatusSent, got.Status)
		require.Equal(t, ims.DeliveryDelivered, got.DeliveryStatus, "the parked winner applies in the outcome's transaction")
		require.NotNil(t, got.DeliveredAt)
		requireTime(t, micro(at), *got.DeliveredAt)
		evs := f.events(t, ims.AuditFilter{MessageID: m.ID, Type: ims.EventMessageDeliveryReport})
		require.Len(t, evs, 1)
		require.Equal(t, "dlr:parked", evs[0].Actor)

		// Once tied to its message, a report is no longer parked.
		n, err := f.s.PurgeParkedReports(f.ctx, f.clock.Now().Add(time.Hour), 100)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, []ims.ReportOutcome{ims.ReportIgnored},
			f.reports(t, report(pid(m), ims.DeliveryUndelivered, at.Add(time.Hour), "E9")), "delivered is final")
	})
	t.Run("an undelivered parked report applies too", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.claimOne(t)
		f.reports(t, report(pid(m), ims.DeliveryUndelivered, f.clock.Now(), "E1"),
			report(pid(m), ims.DeliveryUndelivered, f.clock.Now().Add(time.Second), "E2"))
		f.record(t, outcome(m, ims.StatusSent, f.clock.Now()))
		got := f.get(t, m.ID)
		require.Equal(t, ims.DeliveryUndelivered, got.DeliveryStatus)
		require.Equal(t, "E2", got.ErrorCode, "the latest undelivered wins")
	})
	t.Run("unknown ids stay parked until purged", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		require.Equal(t, []ims.ReportOutcome{ims.ReportParked}, f.reports(t, report("nobody", ims.DeliveryDelivered, f.clock.Now(), "")))
		n, err := f.s.PurgeParkedReports(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Zero(t, n, "received at the cutoff: kept")
		f.clock.Advance(time.Hour)
		n, err = f.s.PurgeParkedReports(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, []ims.ReportOutcome{ims.ReportParked}, f.reports(t, report("nobody", ims.DeliveryDelivered, start, "")),
			"a purged report is forgotten")
	})
	t.Run("list filters by delivery status", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		delivered := f.inState(t, ims.StatusSent)
		undelivered := f.inState(t, ims.StatusSent)
		waiting := f.inState(t, ims.StatusSent)
		f.reports(t, report(pid(delivered), ims.DeliveryDelivered, f.clock.Now(), ""),
			report(pid(undelivered), ims.DeliveryUndelivered, f.clock.Now(), "E1"))
		list := func(d ims.DeliveryStatus, extra ims.Status) []string {
			page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Delivery: d, DeliverySet: true, Status: extra})
			require.NoError(t, err)
			return ids(page.Messages)
		}
		require.Equal(t, []string{delivered.ID}, list(ims.DeliveryDelivered, ""))
		require.Equal(t, []string{undelivered.ID}, list(ims.DeliveryUndelivered, ""))
		require.Equal(t, []string{waiting.ID}, list(ims.DeliveryNone, ims.StatusSent))
		_, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Delivery: "bogus", DeliverySet: true})
		requireCode(t, ims.EINVALID, err)
	})
}
