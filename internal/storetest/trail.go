package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// The audit trail of deliveries: a store may keep a delivery's claimed and
// sent events in its attempt row rather than as audit rows (both stores do,
// migration 00013), and the audit list must then answer exactly as if they
// were rows: every event, its ID, text, actor and time, in the order things
// happened, under every filter and across pages, and through retention.

// outcomeActor records outcomes in these tests: another actor than the
// claim's, so that a trail that mixes them up fails.
const outcomeActor = "worker:outcome"

// trailEvent is what a test expects of one event: the ID is checked apart
// (strictly decreasing, newest first).
type trailEvent struct {
	Type, Actor, Details string
	At                   time.Time
}

func trailOf(evs []ims.AuditEvent) []trailEvent {
	out := make([]trailEvent, len(evs))
	for i, e := range evs {
		out[i] = trailEvent{e.Type, e.Actor, e.Details, e.CreatedAt}
	}
	return out
}

// requireTrail checks a message's whole trail, newest first, and that the
// IDs strictly decrease.
func (f *fixture) requireTrail(t *testing.T, id string, want ...trailEvent) []ims.AuditEvent {
	t.Helper()
	evs := f.events(t, ims.AuditFilter{MessageID: id})
	require.Equal(t, want, trailOf(evs))
	requireNewestFirst(t, evs)
	return evs
}

func requireNewestFirst(t *testing.T, evs []ims.AuditEvent) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		require.Less(t, evs[i].ID, evs[i-1].ID, "newest first by ID, strictly: %v", evs)
	}
}

func (f *fixture) recordAs(t *testing.T, o ims.Outcome) {
	t.Helper()
	require.NoError(t, f.s.RecordOutcomes(f.ctx, []ims.Outcome{o}, outcomeActor))
}

func claimedEv(n int, at time.Time) trailEvent {
	return trailEvent{ims.EventMessageClaimed, actor, fmt.Sprintf("attempt %d", n), at}
}

func createdEv(at time.Time) trailEvent { return trailEvent{ims.EventMessageCreated, actor, "", at} }

func testAuditTrail(t *testing.T, open Opener) {
	t.Run("claim, retry, claim, sent: every event in order", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		t0 := f.now()
		t1 := f.advance(time.Second)
		c := f.claim(t, 1)[0]
		t2 := f.advance(time.Second)
		retry := outcome(c, ims.StatusPending, t2)
		f.recordAs(t, retry)
		f.advance(5 * time.Minute)
		t3 := f.now()
		c2 := f.claim(t, 1)[0]
		require.Equal(t, 2, c2.Attempts)
		t4 := f.advance(time.Second)
		f.recordAs(t, outcome(c2, ims.StatusSent, t4))

		evs := f.requireTrail(t, m.ID,
			trailEvent{ims.EventMessageSent, outcomeActor, "delivered (HTTP 202)", t4},
			claimedEv(2, t3),
			trailEvent{ims.EventMessageRetryScheduled, outcomeActor, ims.OutcomeDetails(retry), t2},
			claimedEv(1, t1),
			createdEv(t0))
		require.Equal(t, evs, f.events(t, ims.AuditFilter{}), "the unfiltered list holds the same events")
		for _, e := range evs {
			require.Equal(t, m.ID, e.MessageID)
		}

		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 2, "two finished attempts")
		require.Equal(t, []int{1, 2}, []int{attempts[0].Number, attempts[1].Number})
		require.Equal(t, []ims.Status{ims.StatusPending, ims.StatusSent}, []ims.Status{attempts[0].Outcome, attempts[1].Outcome})
		requireTime(t, t2, attempts[0].CreatedAt, "an attempt's time is its outcome's")
		requireTime(t, t4, attempts[1].CreatedAt)
		require.Equal(t, 202, attempts[1].StatusCode)
		require.Equal(t, 15250*time.Microsecond, attempts[1].Latency)
		require.Equal(t, `{"message":"Accepted"}`, attempts[1].Response)
	})
	t.Run("an attempt in flight is in the trail, not in the attempt list", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		t0 := f.now()
		t1 := f.advance(time.Second)
		f.claim(t, 1)
		f.requireTrail(t, m.ID, claimedEv(1, t1), createdEv(t0))
		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Empty(t, attempts, "no answer yet: not a finished attempt")
	})
	t.Run("release keeps the claim and adds nothing to the attempts", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		t0 := f.now()
		t1 := f.advance(time.Second)
		c := f.claim(t, 1)[0]
		t2 := f.advance(time.Second)
		require.NoError(t, f.s.ReleaseClaims(f.ctx, []ims.Claim{c.Claim()}))
		t3 := f.advance(time.Second)
		c2 := f.claim(t, 1)[0]
		require.Equal(t, 1, c2.Attempts, "a released attempt is not counted")
		t4 := f.advance(time.Second)
		f.recordAs(t, outcome(c2, ims.StatusSent, t4))
		f.requireTrail(t, m.ID,
			trailEvent{ims.EventMessageSent, outcomeActor, "delivered (HTTP 202)", t4},
			claimedEv(1, t3),
			trailEvent{ims.EventMessageReleased, "system", "attempt 1 released", t2},
			claimedEv(1, t1),
			createdEv(t0))
		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 1, "the released claim made no call")
		require.Equal(t, ims.StatusSent, attempts[0].Outcome)
	})
	t.Run("a deferred claim keeps its claim event and adds no attempt", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		t0 := f.now()
		t1 := f.advance(time.Second)
		c := f.claim(t, 1)[0]
		t2 := f.advance(time.Second)
		d := ims.DeferredClaim{Claim: c.Claim(), Deferral: ims.Deferral{Until: t2.Add(time.Minute), Details: "quiet"}}
		require.NoError(t, f.s.DeferClaims(f.ctx, []ims.DeferredClaim{d}, outcomeActor))
		t3 := f.advance(time.Minute)
		c2 := f.claim(t, 1)[0]
		t4 := f.advance(time.Second)
		f.recordAs(t, outcome(c2, ims.StatusDead, t4))
		f.requireTrail(t, m.ID,
			trailEvent{ims.EventMessageDead, outcomeActor, "permanent failure: dial tcp 127.0.0.1:9: connection refused", t4},
			claimedEv(1, t3),
			trailEvent{ims.EventMessageDeferred, outcomeActor, "quiet", t2},
			claimedEv(1, t1),
			createdEv(t0))
		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 1)
		require.Equal(t, ims.StatusDead, attempts[0].Outcome)
	})
	t.Run("a lost claim keeps its event; its late outcome is an attempt, not an event", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		t0 := f.now()
		t1 := f.advance(time.Second)
		c1 := f.claim(t, 1)[0]
		f.advance(lease)
		t2 := f.now()
		c2 := f.claim(t, 1)[0]
		require.Equal(t, m.ID, c2.ID, "claimed again once the lease ran out")
		require.Equal(t, 2, c2.Attempts)
		t3 := f.advance(time.Second)
		f.recordAs(t, outcome(c1, ims.StatusSent, t3)) // stale: fenced out
		require.Equal(t, ims.StatusSending, f.get(t, m.ID).Status, "a stale outcome moves nothing")
		f.requireTrail(t, m.ID, claimedEv(2, t2), claimedEv(1, t1), createdEv(t0))
		t4 := f.advance(time.Second)
		f.recordAs(t, outcome(c2, ims.StatusSent, t4))
		f.requireTrail(t, m.ID,
			trailEvent{ims.EventMessageSent, outcomeActor, "delivered (HTTP 202)", t4},
			claimedEv(2, t2), claimedEv(1, t1), createdEv(t0))
		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 2, "the stale outcome is on record, as before")
		require.Equal(t, []int{1, 2}, []int{attempts[0].Number, attempts[1].Number}, "in the order they finished")
		requireTime(t, t3, attempts[0].CreatedAt)
		require.Len(t, f.events(t, ims.AuditFilter{Type: ims.EventMessageSent}), 1, "one sent event: the current one")
	})
	t.Run("a claimed message expired after its lease keeps its claim event", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.expiring(time.Minute))
		t0 := f.now()
		c := f.claim(t, 1)[0]
		f.advance(lease + time.Minute)
		t1 := f.now()
		n, err := f.s.ExpireDue(f.ctx, ims.ExpiryStopped, "expiry", 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		f.recordAs(t, outcome(c, ims.StatusSent, f.advance(time.Second))) // stale
		f.requireTrail(t, m.ID,
			trailEvent{ims.EventMessageExpired, "expiry", ims.ExpiredDecision(ims.ExpiryStopped).Reason, t1},
			claimedEv(1, t0), createdEv(t0))
		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 1, "only the late outcome is an attempt")
	})
	t.Run("a sent outcome with its own text keeps it", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		c := f.claimOne(t)
		o := outcome(c, ims.StatusSent, f.advance(time.Second))
		o.Decision.Reason = "delivered by the fallback"
		f.recordAs(t, o)
		evs := f.events(t, ims.AuditFilter{MessageID: c.ID, Type: ims.EventMessageSent})
		require.Len(t, evs, 1)
		require.Equal(t, "delivered by the fallback (HTTP 202)", evs[0].Details)
	})
	t.Run("filters and pages across stored and attempt events", testAuditTrailFilters(open))
	t.Run("retention keeps the events of purged messages, until their own retention", testAuditTrailRetention(open))
}

func testAuditTrailFilters(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		// Three messages, their deliveries interleaved, and stored events
		// between them.
		ms := f.createN(t, 3)
		at := func() time.Time { return f.advance(time.Second) }
		at()
		cs := f.claim(t, 2) // ms[0], ms[1]
		require.NoError(t, f.s.AppendAudit(f.ctx, []ims.AuditEvent{{Type: ims.EventSystemStarted, Actor: "system", CreatedAt: at()}}))
		f.recordAs(t, outcome(cs[1], ims.StatusSent, at()))
		c3 := f.claim(t, 1)[0] // ms[2]
		f.recordAs(t, outcome(cs[0], ims.StatusPending, at()))
		f.recordAs(t, outcome(c3, ims.StatusSent, at()))
		f.advance(5 * time.Minute)
		c4 := f.claim(t, 1)[0] // ms[0] again
		require.Equal(t, ms[0].ID, c4.ID)
		f.recordAs(t, outcome(c4, ims.StatusSent, at()))

		all := f.events(t, ims.AuditFilter{})
		require.Len(t, all, 3+4+1+3+1, "3 created, 4 claimed, 1 stored, 3 sent, 1 retry")
		requireNewestFirst(t, all)
		matching := func(keep func(ims.AuditEvent) bool) []ims.AuditEvent {
			out := []ims.AuditEvent{}
			for _, e := range all {
				if keep(e) {
					out = append(out, e)
				}
			}
			return out
		}
		mid := all[len(all)/2]
		tests := []struct {
			name   string
			filter ims.AuditFilter
			keep   func(ims.AuditEvent) bool
		}{
			{"claimed", ims.AuditFilter{Type: ims.EventMessageClaimed}, func(e ims.AuditEvent) bool { return e.Type == ims.EventMessageClaimed }},
			{"sent", ims.AuditFilter{Type: ims.EventMessageSent}, func(e ims.AuditEvent) bool { return e.Type == ims.EventMessageSent }},
			{"retry", ims.AuditFilter{Type: ims.EventMessageRetryScheduled}, func(e ims.AuditEvent) bool { return e.Type == ims.EventMessageRetryScheduled }},
			{"message", ims.AuditFilter{MessageID: ms[0].ID}, func(e ims.AuditEvent) bool { return e.MessageID == ms[0].ID }},
			{"message and sent", ims.AuditFilter{MessageID: ms[0].ID, Type: ims.EventMessageSent}, func(e ims.AuditEvent) bool {
				return e.MessageID == ms[0].ID && e.Type == ims.EventMessageSent
			}},
			{"since", ims.AuditFilter{Since: mid.CreatedAt}, func(e ims.AuditEvent) bool { return !e.CreatedAt.Before(mid.CreatedAt) }},
			{"until", ims.AuditFilter{Until: mid.CreatedAt}, func(e ims.AuditEvent) bool { return e.CreatedAt.Before(mid.CreatedAt) }},
			{"before", ims.AuditFilter{Before: mid.ID}, func(e ims.AuditEvent) bool { return e.ID < mid.ID }},
			{"every filter", ims.AuditFilter{MessageID: ms[0].ID, Type: ims.EventMessageClaimed, Since: all[len(all)-1].CreatedAt,
				Until: f.clock.Now().Add(time.Hour), Before: all[0].ID}, func(e ims.AuditEvent) bool {
				return e.MessageID == ms[0].ID && e.Type == ims.EventMessageClaimed
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := matching(tt.keep)
				require.NotEmpty(t, want, "the case must select something")
				require.Equal(t, want, f.events(t, tt.filter))
			})
		}
		t.Run("cursor on every event", func(t *testing.T) {
			for i, e := range all {
				require.Equal(t, all[i+1:], append([]ims.AuditEvent{}, f.events(t, ims.AuditFilter{Before: e.ID})...), "before %d", e.ID)
			}
		})
		t.Run("pages of every size", func(t *testing.T) {
			for size := 1; size <= 4; size++ {
				var got []ims.AuditEvent
				var before int64
				for range len(all) + 1 {
					page, err := f.s.ListAudit(f.ctx, ims.AuditFilter{Limit: size, Before: before})
					require.NoError(t, err)
					got = append(got, page.Events...)
					if page.NextCursor == "" {
						break
					}
					_, err = fmt.Sscan(page.NextCursor, &before)
					require.NoError(t, err)
				}
				require.Equal(t, all, got, "pages of %d", size)
			}
		})
	}
}

func testAuditTrailRetention(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		old := f.create(t, f.newMsg())
		c := f.claim(t, 1)[0]
		f.recordAs(t, outcome(c, ims.StatusSent, f.advance(time.Second)))
		before := f.events(t, ims.AuditFilter{MessageID: old.ID})
		require.Len(t, before, 3)
		all := f.events(t, ims.AuditFilter{})

		// An audit purge before the events hides nothing.
		_, err := f.s.PurgeAudit(f.ctx, before[len(before)-1].CreatedAt, 100)
		require.NoError(t, err)
		require.Equal(t, before, f.events(t, ims.AuditFilter{MessageID: old.ID}))

		// Purging the message keeps its events, IDs and all.
		n, err := f.s.PurgeMessages(f.ctx, ims.StatusSent, f.advance(time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = f.s.GetMessage(f.ctx, old.ID)
		requireCode(t, ims.ENOTFOUND, err)
		require.Equal(t, before, f.events(t, ims.AuditFilter{MessageID: old.ID}), "the trail outlives the message")
		require.Equal(t, all, f.events(t, ims.AuditFilter{}))
		require.Equal(t, before[:1], f.events(t, ims.AuditFilter{Type: ims.EventMessageSent}))
		require.Equal(t, before[1:2], f.events(t, ims.AuditFilter{Type: ims.EventMessageClaimed}))

		// A live message's delivery events older than the audit retention
		// are gone, as stored ones are; newer ones stay.
		live := f.create(t, f.newMsg())
		f.claim(t, 1)
		liveClaim := f.now()
		f.advance(time.Hour)
		newer := f.claimOne(t)
		cut := f.advance(time.Second)
		_, err = f.s.PurgeAudit(f.ctx, cut, 100)
		require.NoError(t, err)
		require.Empty(t, f.events(t, ims.AuditFilter{MessageID: old.ID}), "the purged message's events have their own retention")
		require.Empty(t, f.events(t, ims.AuditFilter{MessageID: live.ID}), "older than the cut: purged, synthesised or not")
		require.Empty(t, f.events(t, ims.AuditFilter{Until: liveClaim.Add(time.Microsecond)}))
		require.Equal(t, ims.StatusSending, f.get(t, live.ID).Status, "the message itself stays")

		// Purging a message after the audit purge keeps only what the audit
		// retention still keeps.
		f.recordAs(t, outcome(newer, ims.StatusSent, f.advance(time.Second)))
		trail := f.events(t, ims.AuditFilter{MessageID: newer.ID})
		require.Equal(t, []string{ims.EventMessageSent}, eventTypes(trail), "created and claimed are older than the cut")
		n, err = f.s.PurgeMessages(f.ctx, ims.StatusSent, f.advance(time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, trail, f.events(t, ims.AuditFilter{MessageID: newer.ID}))
	}
}

// advance moves the clock and returns the new now as a store keeps it.
func (f *fixture) advance(d time.Duration) time.Time {
	f.clock.Advance(d)
	return f.now()
}
