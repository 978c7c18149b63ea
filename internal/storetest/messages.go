package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func testCreate(t *testing.T, open Opener) {
	t.Run("single", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.newMsg()
		m := f.create(t, nm)

		requireUUID(t, m.ID)
		require.Equal(t, nm.PhoneNumber, m.PhoneNumber)
		require.Equal(t, nm.Content, m.Content)
		require.Equal(t, ims.StatusPending, m.Status)
		require.Zero(t, m.Attempts)
		require.Nil(t, m.SendAt)
		require.Nil(t, m.SentAt)
		requireTime(t, f.now(), m.NextAttemptAt, "next_attempt_at")
		requireTime(t, f.now(), m.CreatedAt, "created_at")
		requireTime(t, f.now(), m.UpdatedAt, "updated_at")
		require.Equal(t, m, f.get(t, m.ID), "GetMessage must return what CreateMessages returned")

		evs := f.events(t, ims.AuditFilter{MessageID: m.ID})
		require.Len(t, evs, 1)
		require.Equal(t, ims.EventMessageCreated, evs[0].Type)
		require.Equal(t, actor, evs[0].Actor)
		requireTime(t, f.now(), evs[0].CreatedAt)
	})
	t.Run("batch keeps order and creates all", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nms := []ims.NewMessage{f.newMsg(), f.newMsg(), f.newMsg()}
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, nms))
		require.NoError(t, err)
		require.Len(t, res, 3)
		seen := map[string]bool{}
		for i, r := range res {
			require.True(t, r.Created)
			require.Equal(t, nms[i].Content, r.Message.Content)
			require.False(t, seen[r.Message.ID], "IDs must be distinct")
			seen[r.Message.ID] = true
		}
		require.Len(t, f.events(t, ims.AuditFilter{Type: ims.EventMessageCreated}), 3)
	})
	t.Run("per-message actor wins over the batch's", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		own := f.newMsg()
		own.Actor = "api:request-7"
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{own, f.newMsg()}))
		require.NoError(t, err)
		require.Len(t, res, 2)
		evs := f.events(t, ims.AuditFilter{MessageID: res[0].Message.ID})
		require.Len(t, evs, 1)
		require.Equal(t, "api:request-7", evs[0].Actor)
		evs = f.events(t, ims.AuditFilter{MessageID: res[1].Message.ID})
		require.Len(t, evs, 1)
		require.Equal(t, actor, evs[0].Actor, "no own actor: the batch's")
	})
	t.Run("empty batch", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, nil))
		require.NoError(t, err)
		require.Empty(t, res)
	})
	t.Run("send_at in the future is not due", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		at := f.clock.Now().Add(time.Hour).In(time.FixedZone("UTC+3", 3*3600))
		nm := f.newMsg()
		nm.SendAt = &at
		m := f.create(t, nm)

		require.NotNil(t, m.SendAt)
		requireTime(t, micro(at), *m.SendAt, "send_at")
		requireTime(t, micro(at), m.NextAttemptAt, "next_attempt_at = send_at")
		require.Empty(t, f.claim(t, 10), "a message is not due before send_at")

		f.clock.Set(at)
		got := f.claim(t, 10)
		require.Equal(t, []string{m.ID}, ids(got), "due at send_at")
	})
	t.Run("idempotency key returns the earlier message", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.newMsg()
		nm.IdempotencyKey = "key-1"
		first := f.create(t, nm)
		require.Equal(t, "key-1", first.IdempotencyKey)

		f.clock.Advance(time.Minute)
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{nm}))
		require.NoError(t, err)
		require.Len(t, res, 1)
		require.False(t, res[0].Created)
		require.Equal(t, first, res[0].Message)
		require.Len(t, f.events(t, ims.AuditFilter{Type: ims.EventMessageCreated}), 1)
	})
	t.Run("idempotency key with another body conflicts and writes nothing", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.newMsg()
		nm.IdempotencyKey = "key-1"
		f.create(t, nm)

		for name, other := range map[string]ims.NewMessage{
			"content": {PhoneNumber: nm.PhoneNumber, Content: "other", IdempotencyKey: "key-1"},
			"phone":   {PhoneNumber: "+14155550100", Content: nm.Content, IdempotencyKey: "key-1"},
		} {
			_, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{f.newMsg(), other}))
			requireCode(t, ims.ECONFLICT, err)
			require.Equal(t, "Idempotency-Key already used for a different message", ims.ErrorMessage(err), name)
		}
		counts, err := f.s.CountByStatus(f.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, counts[ims.StatusPending], "a conflicting batch is all or nothing")
		require.Len(t, f.events(t, ims.AuditFilter{}), 1)
	})
	t.Run("idempotency replay compares send_at", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		at := f.clock.Now().Add(time.Hour).Add(123456789) // nanoseconds beyond what a store keeps
		nm := f.newMsg()
		nm.IdempotencyKey, nm.SendAt = "key-at", &at
		first := f.create(t, nm)

		sameInstant := at.In(time.FixedZone("UTC+3", 3*3600))
		later, none := at.Add(time.Minute), (*time.Time)(nil)
		tests := []struct {
			name     string
			sendAt   *time.Time
			conflict bool
		}{
			{"same instant, another zone", &sameInstant, false},
			{"another time", &later, true},
			{"no send_at", none, true},
		}
		for _, tt := range tests {
			again := nm
			again.SendAt = tt.sendAt
			res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{again}))
			if tt.conflict {
				requireCode(t, ims.ECONFLICT, err)
				continue
			}
			require.NoError(t, err, tt.name)
			require.False(t, res[0].Created, tt.name)
			require.Equal(t, first.ID, res[0].Message.ID, tt.name)
		}
		// Within one batch too.
		other := f.newMsg()
		other.IdempotencyKey = "key-batch"
		otherLater := other
		otherLater.SendAt = &later
		_, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{other, otherLater}))
		requireCode(t, ims.ECONFLICT, err)

		counts, err := f.s.CountByStatus(f.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, counts[ims.StatusPending], "a conflict writes nothing")
	})
	t.Run("batch and single keys live apart", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		single := f.newMsg()
		single.IdempotencyKey = "k#0"
		item := f.newMsg()
		item.IdempotencyKey, item.IdempotencyScope = "k#0", ims.ScopeBatch

		s := f.create(t, single)
		b := f.create(t, item)
		require.NotEqual(t, s.ID, b.ID, "one key in two scopes is two requests")
		require.Equal(t, "k#0", b.IdempotencyKey)

		for _, nm := range []ims.NewMessage{single, item} {
			res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{nm}))
			require.NoError(t, err)
			require.False(t, res[0].Created, "each replays in its own scope")
			require.Equal(t, nm.Content, res[0].Message.Content)
		}
		// Both in one call (coalesced single creates and a batch never mix,
		// but the store must not care).
		s2, b2 := f.newMsg(), f.newMsg()
		s2.IdempotencyKey = "x"
		b2.IdempotencyKey, b2.IdempotencyScope = "x", ims.ScopeBatch
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{s2, b2}))
		require.NoError(t, err)
		require.True(t, res[0].Created)
		require.True(t, res[1].Created)
	})
	t.Run("duplicate keys within one batch", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.newMsg()
		nm.IdempotencyKey = "dup"
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{nm, f.newMsg(), nm}))
		require.NoError(t, err)
		require.Len(t, res, 3)
		require.True(t, res[0].Created)
		require.True(t, res[1].Created)
		require.False(t, res[2].Created, "the first of duplicate keys wins")
		require.Equal(t, res[0].Message, res[2].Message)

		_, err = f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{{PhoneNumber: phone, Content: "x", IdempotencyKey: "k2"}, {PhoneNumber: phone, Content: "y", IdempotencyKey: "k2"}}))
		requireCode(t, ims.ECONFLICT, err)
		counts, err := f.s.CountByStatus(f.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 2, counts[ims.StatusPending])
	})
}

func testGet(t *testing.T, open Opener) {
	f := setup(t, open)
	m := f.create(t, f.newMsg())
	t.Run("found", func(t *testing.T) {
		require.Equal(t, m, f.get(t, m.ID))
	})
	for name, id := range map[string]string{
		"unknown uuid":  "0190b6f2-8d1c-7000-8000-000000000000",
		"malformed":     "not-a-uuid",
		"empty":         "",
		"sql injection": "' OR 1=1 --",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.s.GetMessage(f.ctx, id)
			requireCode(t, ims.ENOTFOUND, err)
		})
	}
}

func testList(t *testing.T, open Opener) {
	t.Run("status filter newest first", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		msgs := f.createN(t, 4)
		_, err := f.s.CancelMessage(f.ctx, msgs[1].ID, actor)
		require.NoError(t, err)

		tests := []struct {
			status ims.Status
			want   []string
		}{
			{"", reversed(ids(msgs))},
			{ims.StatusPending, []string{msgs[3].ID, msgs[2].ID, msgs[0].ID}},
			{ims.StatusCanceled, []string{msgs[1].ID}},
			{ims.StatusSent, []string{}},
		}
		for _, tt := range tests {
			page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Status: tt.status})
			require.NoError(t, err)
			require.Equal(t, tt.want, ids(page.Messages), "status %q", tt.status)
			require.Empty(t, page.NextCursor)
		}
	})
	t.Run("cursor pagination", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name  string
			n     int
			pages [][]int // indexes into the newest-first list
		}{
			{"partial last page", 7, [][]int{{0, 1, 2}, {3, 4, 5}, {6}}},
			{"full last page", 6, [][]int{{0, 1, 2}, {3, 4, 5}, {}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				f := setup(t, open)
				all := reversed(ids(f.createN(t, tt.n)))
				cursor := ""
				for i, want := range tt.pages {
					page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Before: cursor, Limit: 3})
					require.NoError(t, err)
					wantIDs := make([]string, len(want))
					for j, k := range want {
						wantIDs[j] = all[k]
					}
					require.Equal(t, wantIDs, ids(page.Messages), "page %d", i)
					if len(want) == 3 {
						require.Equal(t, wantIDs[2], page.NextCursor, "a full page's cursor is its last ID")
					} else {
						require.Empty(t, page.NextCursor, "the last page has no cursor")
					}
					cursor = page.NextCursor
				}
			})
		}
	})
	t.Run("limit default and cap", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		f.createN(t, 1001)
		tests := []struct {
			limit, want int
		}{{0, 50}, {-1, 50}, {10, 10}, {5000, 1000}}
		for _, tt := range tests {
			page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Limit: tt.limit})
			require.NoError(t, err)
			require.Len(t, page.Messages, tt.want, "limit %d", tt.limit)
		}
	})
}

func testCancel(t *testing.T, open Opener) {
	t.Run("pending", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.newMsg())
		f.clock.Advance(time.Second)
		got, err := f.s.CancelMessage(f.ctx, m.ID, "api:req-1")
		require.NoError(t, err)
		require.Equal(t, ims.StatusCanceled, got.Status)
		requireTime(t, f.now(), got.UpdatedAt)
		require.Equal(t, got, f.get(t, m.ID))

		evs := f.events(t, ims.AuditFilter{Type: ims.EventMessageCanceled})
		require.Len(t, evs, 1)
		require.Equal(t, m.ID, evs[0].MessageID)
		require.Equal(t, "api:req-1", evs[0].Actor)
		require.Empty(t, f.claim(t, 10), "a canceled message is never claimed")
	})
	for _, status := range []ims.Status{ims.StatusSending, ims.StatusSent, ims.StatusDead, ims.StatusCanceled} {
		t.Run(string(status)+" conflicts", func(t *testing.T) {
			t.Parallel()
			f := setup(t, open)
			m := f.inState(t, status)
			_, err := f.s.CancelMessage(f.ctx, m.ID, actor)
			requireCode(t, ims.ECONFLICT, err)
			require.Contains(t, ims.ErrorMessage(err), string(status))
			require.Equal(t, m, f.get(t, m.ID), "a refused cancel changes nothing")
		})
	}
	for name, id := range map[string]string{"unknown": "0190b6f2-8d1c-7000-8000-000000000000", "malformed": "nope"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, open)
			_, err := f.s.CancelMessage(f.ctx, id, actor)
			requireCode(t, ims.ENOTFOUND, err)
		})
	}
}

func testReplay(t *testing.T, open Opener) {
	t.Run("one dead message", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		dead := f.inState(t, ims.StatusDead)
		require.NotEmpty(t, dead.LastError)
		f.clock.Advance(time.Hour)

		got, err := f.s.ReplayMessage(f.ctx, dead.ID, "api:req-2")
		require.NoError(t, err)
		require.Equal(t, ims.StatusPending, got.Status)
		require.Zero(t, got.Attempts)
		require.Empty(t, got.LastError)
		requireTime(t, f.now(), got.NextAttemptAt)
		requireTime(t, f.now(), got.UpdatedAt)
		require.Equal(t, got, f.get(t, dead.ID))

		evs := f.events(t, ims.AuditFilter{Type: ims.EventMessageReplayed})
		require.Len(t, evs, 1)
		require.Equal(t, dead.ID, evs[0].MessageID)
		require.Equal(t, "api:req-2", evs[0].Actor)

		claimed := f.claim(t, 10)
		require.Equal(t, []string{dead.ID}, ids(claimed))
		require.Equal(t, 1, claimed[0].Attempts, "attempts restart from zero")
	})
	for _, status := range []ims.Status{ims.StatusPending, ims.StatusSending, ims.StatusSent, ims.StatusCanceled} {
		t.Run(string(status)+" conflicts", func(t *testing.T) {
			t.Parallel()
			f := setup(t, open)
			m := f.inState(t, status)
			_, err := f.s.ReplayMessage(f.ctx, m.ID, actor)
			requireCode(t, ims.ECONFLICT, err)
			require.Equal(t, m, f.get(t, m.ID))
		})
	}
	for name, id := range map[string]string{"unknown": "0190b6f2-8d1c-7000-8000-000000000000", "malformed": "nope"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, open)
			_, err := f.s.ReplayMessage(f.ctx, id, actor)
			requireCode(t, ims.ENOTFOUND, err)
		})
	}
	t.Run("all dead letters, oldest first, up to limit", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		dead := []ims.Message{f.inState(t, ims.StatusDead), f.inState(t, ims.StatusDead), f.inState(t, ims.StatusDead)}
		sent := f.inState(t, ims.StatusSent)

		n, err := f.s.ReplayDeadLetters(f.ctx, actor, 2)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, ims.StatusPending, f.get(t, dead[0].ID).Status)
		require.Equal(t, ims.StatusPending, f.get(t, dead[1].ID).Status)
		require.Equal(t, ims.StatusDead, f.get(t, dead[2].ID).Status)

		n, err = f.s.ReplayDeadLetters(f.ctx, actor, 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = f.s.ReplayDeadLetters(f.ctx, actor, 10)
		require.NoError(t, err)
		require.Zero(t, n)

		require.Equal(t, ims.StatusSent, f.get(t, sent.ID).Status)
		require.Len(t, f.events(t, ims.AuditFilter{Type: ims.EventMessageReplayed}), 3)
	})
}

func testCountByStatus(t *testing.T, open Opener) {
	f := setup(t, open)
	counts, err := f.s.CountByStatus(f.ctx)
	require.NoError(t, err)
	want := map[ims.Status]int64{}
	for _, s := range ims.Statuses {
		want[s] = 0
	}
	require.Equal(t, want, counts, "every status is present, zero when empty")

	for _, s := range []ims.Status{ims.StatusSending, ims.StatusSent, ims.StatusDead, ims.StatusDead, ims.StatusCanceled, ims.StatusPending, ims.StatusPending, ims.StatusPending} {
		f.inState(t, s)
		want[s]++
	}
	counts, err = f.s.CountByStatus(f.ctx)
	require.NoError(t, err)
	require.Equal(t, want, counts)
}

// testConcurrentReads: the read pools are bounded (sqlite.MaxReadConns, the
// pgx pool's MaxConns), so a burst of reads far beyond the bound must queue
// and answer right — never fail for want of a connection — and a write
// still goes through while it lasts.
func testConcurrentReads(t *testing.T, open Opener) {
	f := setup(t, open)
	m := f.create(t, f.newMsg())
	const readers = 100
	var wg sync.WaitGroup
	errs := make(chan error, 2*readers+1)
	for range readers {
		wg.Go(func() {
			counts, err := f.s.CountByStatus(f.ctx)
			if err == nil && counts[ims.StatusPending] < 1 {
				err = fmt.Errorf("counted %d pending, want at least 1", counts[ims.StatusPending])
			}
			errs <- err
		})
		wg.Go(func() {
			got, err := f.s.GetMessage(f.ctx, m.ID)
			if err == nil && got.ID != m.ID {
				err = fmt.Errorf("got message %s, want %s", got.ID, m.ID)
			}
			errs <- err
		})
	}
	wg.Go(func() {
		_, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{f.newMsg()}))
		errs <- err
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
