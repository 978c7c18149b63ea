package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// outcomeEvents is the audit event each outcome writes, spelled out here so
// that the suite checks the domain's table too.
var outcomeEvents = map[ims.Status]string{
	ims.StatusSent:    ims.EventMessageSent,
	ims.StatusPending: ims.EventMessageRetryScheduled,
	ims.StatusDead:    ims.EventMessageDead,
}

func testClaim(t *testing.T, open Opener) {
	t.Run("claims due messages oldest due first", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		sendAt := func(d time.Duration) ims.NewMessage {
			nm := f.newMsg()
			at := f.clock.Now().Add(d)
			nm.SendAt = &at
			return nm
		}
		a := f.create(t, sendAt(-time.Minute))
		b := f.create(t, sendAt(-2*time.Minute))
		cd := f.createN(t, 2) // due now, same next_attempt_at: by ID
		f.create(t, sendAt(time.Minute))

		got := f.claim(t, 10)
		require.Equal(t, []string{b.ID, a.ID, cd[0].ID, cd[1].ID}, ids(got))
	})
	t.Run("a message made due earlier than the last claimed ones is claimed next", func(t *testing.T) {
		// A claim order kept by position (a store remembering where its last
		// claim stopped, to skip the dead index entries claims leave behind)
		// would fail this: a create with a past send_at lands behind that
		// point and must not wait behind younger messages, nor a short claim
		// miss it.
		t.Parallel()
		f := setup(t, open)
		queued := f.createN(t, 3)
		require.Equal(t, []string{queued[0].ID}, ids(f.claim(t, 1)))
		past := f.clock.Now().Add(-time.Hour)
		early := f.newMsg()
		early.SendAt = &past
		old := f.create(t, early)
		require.Equal(t, []string{old.ID}, ids(f.claim(t, 1)), "the older message first")
		require.Equal(t, []string{queued[1].ID, queued[2].ID}, ids(f.claim(t, 10)), "a short claim holds all that is due")

		late := f.create(t, early) // behind the floor again, then a claim asking for more than is due
		require.Equal(t, []string{late.ID}, ids(f.claim(t, 5)))
	})
	t.Run("claimed message state and audit", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		f.clock.Advance(time.Second)
		got := f.claim(t, 1)
		require.Len(t, got, 1)
		c := got[0]
		require.Equal(t, m.ID, c.ID)
		require.Equal(t, ims.StatusSending, c.Status)
		require.Equal(t, 1, c.Attempts)
		requireTime(t, f.now().Add(lease), c.NextAttemptAt, "lease deadline")
		requireTime(t, f.now(), c.UpdatedAt)
		requireTime(t, m.CreatedAt, c.CreatedAt)
		require.Equal(t, c, f.get(t, m.ID))

		evs := f.events(t, ims.AuditFilter{Type: ims.EventMessageClaimed})
		require.Len(t, evs, 1)
		require.Equal(t, m.ID, evs[0].MessageID)
		require.Equal(t, actor, evs[0].Actor)
		require.Equal(t, "attempt 1", evs[0].Details)
	})
	t.Run("limit", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		msgs := ids(f.createN(t, 5))
		require.Equal(t, msgs[0:2], ids(f.claim(t, 2)))
		require.Equal(t, msgs[2:4], ids(f.claim(t, 2)))
		require.Equal(t, msgs[4:], ids(f.claim(t, 2)))
		require.Empty(t, f.claim(t, 2))
	})
	t.Run("never claims final states", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		f.inState(t, ims.StatusSent)
		f.inState(t, ims.StatusDead)
		f.inState(t, ims.StatusCanceled)
		f.clock.Advance(365 * 24 * time.Hour)
		require.Empty(t, f.claim(t, 10))
	})
	t.Run("expired lease is claimable again", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		require.Len(t, f.claim(t, 1), 1)
		f.clock.Advance(lease - time.Microsecond)
		require.Empty(t, f.claim(t, 1), "the lease still holds")

		f.clock.Advance(time.Microsecond)
		got := f.claim(t, 1)
		require.Equal(t, []string{m.ID}, ids(got), "due again once the lease is over")
		require.Equal(t, 2, got[0].Attempts)
		require.Equal(t, ims.StatusSending, got[0].Status)
	})
	t.Run("failing message scheduled later does not block others", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		failing := f.create(t, f.newMsg())
		c := f.claim(t, 1)
		require.Equal(t, []string{failing.ID}, ids(c))
		retry := outcome(c[0], ims.StatusPending, f.clock.Now())
		f.record(t, retry)

		other := f.create(t, f.newMsg())
		oc := f.claim(t, 1)
		require.Equal(t, []string{other.ID}, ids(oc))
		require.Empty(t, f.claim(t, 1))
		f.record(t, outcome(oc[0], ims.StatusSent, f.clock.Now()))

		f.clock.Set(retry.Decision.NextAttemptAt)
		got := f.claim(t, 1)
		require.Equal(t, []string{failing.ID}, ids(got))
		require.Equal(t, 2, got[0].Attempts)
	})
	t.Run("zero limit claims nothing", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		f.createN(t, 2)
		require.Empty(t, f.claim(t, 0))
	})
	t.Run("concurrent claimers never share a message", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		const total, workers = 300, 8
		f.createN(t, total)

		var (
			mu   sync.Mutex
			seen = map[string]int{}
			wg   sync.WaitGroup
			errs = make(chan error, workers)
		)
		for range workers {
			wg.Go(func() {
				for {
					got, err := f.s.ClaimDue(f.ctx, ims.ClaimParams{Limit: 7, Lease: lease, Actor: actor})
					if err != nil {
						errs <- err
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, seen, total, "every message claimed")
		for id, n := range seen {
			require.Equal(t, 1, n, "message %s claimed %d times", id, n)
		}
	})
}

func testRecordOutcomes(t *testing.T, open Opener) {
	t.Run("sent, retry and dead in one batch", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		f.createN(t, 3)
		claimed := f.claim(t, 3)
		require.Len(t, claimed, 3)

		at := f.clock.Advance(2 * time.Second)
		outs := []ims.Outcome{
			outcome(claimed[0], ims.StatusSent, at),
			outcome(claimed[1], ims.StatusPending, at),
			outcome(claimed[2], ims.StatusDead, at),
		}
		f.record(t, outs...)

		sent := f.get(t, claimed[0].ID)
		require.Equal(t, ims.StatusSent, sent.Status)
		require.NotNil(t, sent.SentAt)
		requireTime(t, micro(at), *sent.SentAt, "sent_at")
		require.Equal(t, "prov-"+sent.ID, sent.ProviderMessageID)
		require.Empty(t, sent.LastError)
		require.Equal(t, 1, sent.Attempts)
		requireTime(t, micro(at), sent.UpdatedAt)

		retry := f.get(t, claimed[1].ID)
		require.Equal(t, ims.StatusPending, retry.Status)
		requireTime(t, micro(outs[1].Decision.NextAttemptAt), retry.NextAttemptAt)
		require.Equal(t, "webhook answered HTTP 503", retry.LastError)
		require.Nil(t, retry.SentAt)

		dead := f.get(t, claimed[2].ID)
		require.Equal(t, ims.StatusDead, dead.Status)
		require.Equal(t, outs[2].Result.Err, dead.LastError)
		require.Empty(t, dead.ProviderMessageID)

		for i, o := range outs {
			attempts, err := f.s.ListAttempts(f.ctx, o.Claim.MessageID)
			require.NoError(t, err)
			require.Len(t, attempts, 1)
			a := attempts[0]
			require.NotZero(t, a.ID)
			require.Equal(t, o.Claim.MessageID, a.MessageID)
			require.Equal(t, 1, a.Number)
			require.Equal(t, o.Result.StatusCode, a.StatusCode)
			require.Equal(t, o.Result.Latency, a.Latency)
			require.Equal(t, o.Result.ErrorText(), a.Error)
			require.Equal(t, o.Result.Response, a.Response)
			require.Equal(t, o.Decision.Status, a.Outcome)
			requireTime(t, micro(at), a.CreatedAt)

			evs := f.events(t, ims.AuditFilter{MessageID: o.Claim.MessageID, Type: outcomeEvents[o.Decision.Status]})
			require.Len(t, evs, 1, "outcome %d", i)
			require.Equal(t, actor, evs[0].Actor)
			require.Contains(t, evs[0].Details, o.Decision.Reason)
		}
	})
	t.Run("attempts listed oldest first", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		c := f.claim(t, 1)
		f.record(t, outcome(c[0], ims.StatusPending, f.clock.Now()))
		f.clock.Advance(10 * time.Minute)
		c = f.claim(t, 1)
		require.Equal(t, 2, c[0].Attempts)
		f.record(t, outcome(c[0], ims.StatusSent, f.clock.Now()))

		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 2)
		require.Equal(t, 1, attempts[0].Number)
		require.Equal(t, ims.StatusPending, attempts[0].Outcome)
		require.Equal(t, 2, attempts[1].Number)
		require.Equal(t, ims.StatusSent, attempts[1].Outcome)
		require.Empty(t, f.get(t, m.ID).LastError, "a success clears the last error")
	})
	t.Run("stale claim keeps the attempt row but changes nothing", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		first := f.claim(t, 1)[0]
		f.clock.Advance(lease)
		second := f.claim(t, 1)[0]
		require.Equal(t, 2, second.Attempts)

		f.record(t, outcome(first, ims.StatusSent, f.clock.Now()))
		require.Equal(t, second, f.get(t, m.ID), "a stale outcome must not change the message")
		require.Empty(t, f.events(t, ims.AuditFilter{Type: ims.EventMessageSent}))
		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 1)
		require.Equal(t, 1, attempts[0].Number)

		f.record(t, outcome(second, ims.StatusSent, f.clock.Now()))
		require.Equal(t, ims.StatusSent, f.get(t, m.ID).Status)
		require.Len(t, f.events(t, ims.AuditFilter{Type: ims.EventMessageSent}), 1)
	})
	t.Run("empty batch", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		f.record(t)
	})
}

func testRenewClaims(t *testing.T, open Opener) {
	f := setup(t, open)
	msgs := f.createN(t, 3)
	claimed := f.claim(t, 3)
	require.Equal(t, ids(msgs), ids(claimed))
	f.record(t, outcome(claimed[2], ims.StatusSent, f.clock.Now()))
	f.clock.Advance(10 * time.Second)

	stale := claimed[1].Claim()
	stale.Attempt++
	got, err := f.s.RenewClaims(f.ctx, []ims.Claim{
		claimed[0].Claim(),
		stale,
		claimed[2].Claim(), // already sent
		{MessageID: "0190b6f2-8d1c-7000-8000-000000000000", Attempt: 1},
	}, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []string{claimed[0].ID}, ids(got), "only current claims are renewed")
	require.Equal(t, ims.StatusSending, got[0].Status)
	require.Equal(t, 1, got[0].Attempts)
	requireTime(t, f.now().Add(time.Minute), got[0].NextAttemptAt)
	requireTime(t, f.now().Add(time.Minute), f.get(t, claimed[0].ID).NextAttemptAt)
	requireTime(t, claimed[1].NextAttemptAt, f.get(t, claimed[1].ID).NextAttemptAt, "stale claim untouched")

	got, err = f.s.RenewClaims(f.ctx, nil, time.Minute)
	require.NoError(t, err)
	require.Empty(t, got)
}

// A handed-over claim (queue entry) carries its lease deadline: the first
// renewal changes the deadline, so a redelivered copy of the same entry no
// longer matches and is dropped instead of delivered a second time at once.
func testRenewHandedOverClaim(t *testing.T, open Opener) {
	f := setup(t, open)
	f.createN(t, 1)
	claimed := f.claim(t, 1)[0]
	entry := claimed.HandOver()
	require.False(t, entry.LeaseUntil.IsZero())
	f.clock.Advance(time.Second)

	first, err := f.s.RenewClaims(f.ctx, []ims.Claim{entry}, time.Minute)
	require.NoError(t, err)
	require.Len(t, first, 1, "the first consumer wins")

	again, err := f.s.RenewClaims(f.ctx, []ims.Claim{entry}, time.Minute)
	require.NoError(t, err)
	require.Empty(t, again, "a redelivered copy of the entry is stale")

	current, err := f.s.RenewClaims(f.ctx, []ims.Claim{first[0].HandOver()}, time.Minute)
	require.NoError(t, err)
	require.Len(t, current, 1, "the holder can renew with the deadline it holds")
}

// CheckClaims answers as RenewClaims would, and leaves every lease as it
// was: a checked entry can still be renewed with the deadline it was handed
// over with (as its redelivered copy is).
func testCheckClaims(t *testing.T, open Opener) {
	f := setup(t, open)
	f.createN(t, 3)
	claimed := f.claim(t, 3)
	f.record(t, outcome(claimed[2], ims.StatusSent, f.clock.Now()))
	f.clock.Advance(10 * time.Second)

	staleAttempt := claimed[0].HandOver()
	staleAttempt.Attempt++
	otherDeadline := claimed[1].HandOver()
	otherDeadline.LeaseUntil = otherDeadline.LeaseUntil.Add(time.Second)
	got, err := f.s.CheckClaims(f.ctx, []ims.Claim{
		claimed[1].HandOver(),
		staleAttempt,
		otherDeadline,
		claimed[2].HandOver(), // already sent
		{MessageID: "0190b6f2-8d1c-7000-8000-000000000000", Attempt: 1},
		{MessageID: "not-an-id", Attempt: 1},
		claimed[0].Claim(), // no deadline: any current one
	})
	require.NoError(t, err)
	require.Equal(t, []string{claimed[1].ID, claimed[0].ID}, ids(got), "the current claims, in the order given")
	require.Equal(t, ims.StatusSending, got[0].Status)
	require.Equal(t, claimed[1].Attempts, got[0].Attempts)
	requireTime(t, claimed[1].NextAttemptAt, got[0].NextAttemptAt, "returned with the lease it holds")
	for _, m := range claimed[:2] {
		requireTime(t, m.NextAttemptAt, f.get(t, m.ID).NextAttemptAt, "a check moves no lease")
	}

	renewed, err := f.s.RenewClaims(f.ctx, []ims.Claim{claimed[1].HandOver()}, time.Minute)
	require.NoError(t, err)
	require.Len(t, renewed, 1, "after a check the handed-over deadline still renews")

	got, err = f.s.CheckClaims(f.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

func testReleaseClaims(t *testing.T, open Opener) {
	f := setup(t, open)
	a := f.create(t, f.newMsg())
	ca := f.claim(t, 1)[0]
	f.clock.Advance(lease) // a's lease is over...
	b := f.create(t, f.newMsg())
	ca2 := f.claim(t, 1)[0] // ...so a is claimed again (attempt 2) before b
	require.Equal(t, a.ID, ca2.ID)
	cb := f.claim(t, 1)[0]
	require.Equal(t, b.ID, cb.ID)
	f.clock.Advance(time.Second)

	require.NoError(t, f.s.ReleaseClaims(f.ctx, []ims.Claim{ca.Claim(), cb.Claim()}))
	require.Equal(t, ca2, f.get(t, a.ID), "a stale claim is not released")

	rb := f.get(t, b.ID)
	require.Equal(t, ims.StatusPending, rb.Status)
	require.Zero(t, rb.Attempts, "a released attempt does not count")
	requireTime(t, f.now(), rb.NextAttemptAt)
	evs := f.events(t, ims.AuditFilter{Type: ims.EventMessageReleased})
	require.Len(t, evs, 1)
	require.Equal(t, b.ID, evs[0].MessageID)

	got := f.claim(t, 10)
	require.Equal(t, []string{b.ID}, ids(got))
	require.Equal(t, 1, got[0].Attempts)
	require.NoError(t, f.s.ReleaseClaims(f.ctx, nil))
}

// testWaker checks that a store that offers wakeups signals new due work.
func testWaker(t *testing.T, open Opener) {
	f := setup(t, open)
	w, ok := f.s.(ims.Waker)
	if !ok {
		t.Skip("store does not implement ims.Waker")
	}
	ch := w.Wakeups()
	drain := func() {
		for {
			select {
			case <-ch:
			default:
				return
			}
		}
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second): // a bound for a hang, not a performance threshold
			t.Fatalf("no wakeup after %s", what)
		}
	}
	drain()
	f.create(t, f.newMsg())
	wait("creating a due message")

	drain()
	m := f.inState(t, ims.StatusDead)
	drain()
	_, err := f.s.ReplayMessage(f.ctx, m.ID, actor)
	require.NoError(t, err)
	wait("replaying a dead message")
}
