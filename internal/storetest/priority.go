package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func testPriority(t *testing.T, open Opener) {
	t.Run("stored and read back, normal by default", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		plain := f.create(t, f.newMsg())
		require.Equal(t, ims.PriorityNormal, plain.Priority)
		require.Equal(t, ims.PriorityNormal, f.get(t, plain.ID).Priority)
		for _, p := range ims.Priorities {
			nm := f.newMsg()
			nm.Priority = p
			m := f.create(t, nm)
			require.Equal(t, p, m.Priority)
			require.Equal(t, p, f.get(t, m.ID).Priority)
		}
	})
	t.Run("claims take the highest priority first, oldest due first within one", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		var lows []ims.Message
		for range 20 {
			nm := f.newMsg()
			nm.Priority = ims.PriorityLow
			lows = append(lows, f.create(t, nm))
			f.clock.Advance(time.Millisecond)
		}
		nm := f.newMsg()
		nm.Priority = ims.PriorityNormal
		normal := f.create(t, nm)
		f.clock.Advance(time.Millisecond)
		var highs []ims.Message
		for range 2 {
			nm := f.newMsg()
			nm.Priority = ims.PriorityHigh
			highs = append(highs, f.create(t, nm))
			f.clock.Advance(time.Millisecond)
		}
		// A high message scheduled for later does not stand before due ones.
		later := f.clock.Now().Add(time.Hour)
		nm = f.newMsg()
		nm.Priority, nm.SendAt = ims.PriorityHigh, &later
		f.create(t, nm)

		got := f.claim(t, 4)
		require.Equal(t, []string{highs[0].ID, highs[1].ID, normal.ID, lows[0].ID}, ids(got),
			"high (oldest first), then normal, then the oldest low")
		require.Equal(t, ids(lows[1:4]), ids(f.claim(t, 3)))
	})
	t.Run("a high message is claimed first behind a large low backlog", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		batch := make([]ims.NewMessage, 2000)
		for i := range batch {
			batch[i] = f.newMsg()
			batch[i].Priority = ims.PriorityLow
		}
		_, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, batch))
		require.NoError(t, err)
		f.clock.Advance(time.Second)
		nm := f.newMsg()
		nm.Priority = ims.PriorityHigh
		high := f.create(t, nm)
		got := f.claim(t, 1)
		require.Equal(t, []string{high.ID}, ids(got))
	})
	t.Run("list filters by priority", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		byPriority := map[ims.Priority][]string{}
		for _, p := range []ims.Priority{ims.PriorityLow, ims.PriorityHigh, ims.PriorityNormal, ims.PriorityHigh} {
			nm := f.newMsg()
			nm.Priority = p
			byPriority[p] = append(byPriority[p], f.create(t, nm).ID)
		}
		for p, want := range byPriority {
			page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Priority: p})
			require.NoError(t, err)
			require.Equal(t, reversed(want), ids(page.Messages), p)
		}
		page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Priority: ims.PriorityHigh, Status: ims.StatusPending, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{byPriority[ims.PriorityHigh][1]}, ids(page.Messages))
		_, err = f.s.ListMessages(f.ctx, ims.MessageFilter{Priority: "urgent"})
		requireCode(t, ims.EINVALID, err)
	})
	t.Run("an idempotent replay must ask for the same priority", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.newMsg()
		nm.IdempotencyKey, nm.Priority = "prio-key", ims.PriorityHigh
		first := f.create(t, nm)
		res, err := f.s.CreateMessages(f.ctx, []ims.NewMessage{nm})
		require.NoError(t, err)
		require.False(t, res[0].Created)
		require.Equal(t, first.ID, res[0].Message.ID)
		nm.Priority = ims.PriorityLow
		_, err = f.s.CreateMessages(f.ctx, []ims.NewMessage{nm})
		requireCode(t, ims.ECONFLICT, err)
	})
}
