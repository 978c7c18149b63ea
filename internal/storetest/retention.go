package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func testPurgeMessages(t *testing.T, open Opener) {
	t.Run("expired final messages go with their attempts; newer and live ones stay", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		final := []ims.Status{ims.StatusSent, ims.StatusCanceled, ims.StatusDead}
		old := map[ims.Status]ims.Message{}
		for _, st := range final {
			old[st] = f.inState(t, st)
		}
		oldPending := f.inState(t, ims.StatusPending)
		oldSending := f.inState(t, ims.StatusSending)
		cut := f.clock.Advance(time.Hour)
		f.clock.Advance(time.Hour)
		recent := map[ims.Status]ims.Message{}
		for _, st := range final {
			recent[st] = f.inState(t, st)
		}

		for _, st := range final {
			n, err := f.s.PurgeMessages(f.ctx, st, cut, 100)
			require.NoError(t, err)
			require.Equal(t, 1, n, "one %s message is older than the cut", st)

			_, err = f.s.GetMessage(f.ctx, old[st].ID)
			requireCode(t, ims.ENOTFOUND, err)
			attempts, err := f.s.ListAttempts(f.ctx, old[st].ID)
			require.NoError(t, err)
			require.Empty(t, attempts, "a purged message's attempts go with it")

			require.Equal(t, st, f.get(t, recent[st].ID).Status, "a %s message newer than the cut stays", st)
			n, err = f.s.PurgeMessages(f.ctx, st, cut, 100)
			require.NoError(t, err)
			require.Zero(t, n, "nothing left to purge")
		}
		require.Equal(t, ims.StatusPending, f.get(t, oldPending.ID).Status, "live messages are never purged")
		require.Equal(t, ims.StatusSending, f.get(t, oldSending.ID).Status, "live messages are never purged")
		attempts, err := f.s.ListAttempts(f.ctx, recent[ims.StatusSent].ID)
		require.NoError(t, err)
		require.Len(t, attempts, 1, "the attempts of a kept message stay")
	})
	t.Run("batches respect the limit, oldest first", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		var sent []string
		for range 5 {
			sent = append(sent, f.inState(t, ims.StatusSent).ID)
			f.clock.Advance(time.Minute)
		}
		cut := f.clock.Now()
		for i, want := range []int{2, 2, 1, 0} {
			n, err := f.s.PurgeMessages(f.ctx, ims.StatusSent, cut, 2)
			require.NoError(t, err)
			require.Equal(t, want, n, "batch %d", i)
			if i == 0 {
				for _, id := range sent[:2] {
					_, err := f.s.GetMessage(f.ctx, id)
					requireCode(t, ims.ENOTFOUND, err)
				}
				require.Equal(t, ims.StatusSent, f.get(t, sent[2]).Status, "the oldest go first")
			}
		}
	})
	t.Run("a sent message's age counts from its sending, not its creation", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		oldSent := f.inState(t, ims.StatusSent)
		sentLate := f.claimOne(t)
		cut := f.clock.Advance(time.Hour)
		f.clock.Advance(time.Hour)
		f.record(t, outcome(sentLate, ims.StatusSent, f.clock.Now()))
		recent := f.inState(t, ims.StatusSent)

		n, err := f.s.PurgeMessages(f.ctx, ims.StatusSent, cut, 100)
		require.NoError(t, err)
		require.Equal(t, 1, n, "only the message created and sent before the cut goes")
		_, err = f.s.GetMessage(f.ctx, oldSent.ID)
		requireCode(t, ims.ENOTFOUND, err)
		require.Equal(t, ims.StatusSent, f.get(t, sentLate.ID).Status, "created before the cut, sent after it: stays")
		require.Equal(t, ims.StatusSent, f.get(t, recent.ID).Status)
	})
	t.Run("a message's ID carries its creation time, which the sent purge walks by", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		for range 3 {
			m := f.create(t, f.newMsg())
			u, err := uuid.Parse(m.ID)
			require.NoError(t, err)
			require.Equal(t, uuid.Version(7), u.Version())
			sec, nsec := u.Time().UnixTime()
			require.Equal(t, m.CreatedAt.Truncate(time.Millisecond), time.Unix(sec, nsec).UTC(),
				"the ID's timestamp is created_at's millisecond, on the store's clock")
			f.clock.Advance(time.Minute)
		}
	})
	t.Run("the age of a final message counts from its final status", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.inState(t, ims.StatusDead)
		cut := f.clock.Advance(time.Hour)
		_, err := f.s.ReplayMessage(f.ctx, m.ID, actor)
		require.NoError(t, err)
		n, err := f.s.PurgeMessages(f.ctx, ims.StatusDead, cut, 100)
		require.NoError(t, err)
		require.Zero(t, n, "a replayed message is pending, not dead")
		require.Equal(t, ims.StatusPending, f.get(t, m.ID).Status)
	})
	t.Run("live statuses are refused", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.inState(t, ims.StatusPending)
		for _, st := range []ims.Status{ims.StatusPending, ims.StatusSending, "bogus"} {
			_, err := f.s.PurgeMessages(f.ctx, st, f.clock.Advance(time.Hour), 100)
			requireCode(t, ims.EINVALID, err)
		}
		require.Equal(t, ims.StatusPending, f.get(t, m.ID).Status)
	})
}

func testPurgeAudit(t *testing.T, open Opener) {
	f := setup(t, open)
	base := f.now()
	var events []ims.AuditEvent
	for i := range 5 {
		events = append(events, ims.AuditEvent{Type: ims.EventSystemStarted, Actor: actor, CreatedAt: base.Add(time.Duration(i) * time.Minute)})
	}
	require.NoError(t, f.s.AppendAudit(f.ctx, events))
	cut := base.Add(3 * time.Minute) // events at +0, +1, +2 are older

	for i, want := range []int{2, 1, 0} {
		n, err := f.s.PurgeAudit(f.ctx, cut, 2)
		require.NoError(t, err)
		require.Equal(t, want, n, "batch %d", i)
	}
	left := f.events(t, ims.AuditFilter{})
	require.Len(t, left, 2)
	for _, e := range left {
		require.False(t, e.CreatedAt.Before(cut), "only events from the cut on stay, got one at %s", e.CreatedAt)
	}
}
