package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// expiring returns a new message that expires ttl from the clock's now.
func (f *fixture) expiring(ttl time.Duration) ims.NewMessage {
	nm := f.newMsg()
	at := micro(f.clock.Now().Add(ttl))
	nm.ExpiresAt = &at
	return nm
}

func testExpiry(t *testing.T, open Opener) {
	t.Run("stored and read back", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.expiring(time.Minute)
		m := f.create(t, nm)
		require.NotNil(t, m.ExpiresAt)
		requireTime(t, *nm.ExpiresAt, *m.ExpiresAt)
		requireTime(t, *nm.ExpiresAt, *f.get(t, m.ID).ExpiresAt)
		require.Nil(t, f.get(t, f.create(t, f.newMsg()).ID).ExpiresAt, "no expiry: never expires")
	})
	t.Run("a message past its expiry is never claimed", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.expiring(time.Minute))
		f.clock.Advance(time.Minute) // the instant itself is expired
		require.Empty(t, f.claim(t, 10))
		require.Equal(t, ims.StatusPending, f.get(t, m.ID).Status, "until the sweep")
	})
	t.Run("ExpireDue moves due-expired messages to expired with their event", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		soon := f.create(t, f.expiring(time.Second))
		late := f.create(t, f.expiring(time.Hour))
		never := f.create(t, f.newMsg())
		f.clock.Advance(2 * time.Second)
		n, err := f.s.ExpireDue(f.ctx, ims.ExpiryStopped, "expiry", 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, ims.StatusExpired, f.get(t, soon.ID).Status)
		require.Equal(t, ims.StatusPending, f.get(t, late.ID).Status)
		require.Equal(t, ims.StatusPending, f.get(t, never.ID).Status)
		evs := f.events(t, ims.AuditFilter{MessageID: soon.ID, Type: ims.EventMessageExpired})
		require.Len(t, evs, 1)
		require.Equal(t, "expired: stopped", evs[0].Details)
		require.Equal(t, "expiry", evs[0].Actor)

		page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Status: ims.StatusExpired})
		require.NoError(t, err)
		require.Equal(t, []string{soon.ID}, ids(page.Messages))
		counts, err := f.s.CountByStatus(f.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, counts[ims.StatusExpired])

		n, err = f.s.ExpireDue(f.ctx, ims.ExpiryStopped, "expiry", 10)
		require.NoError(t, err)
		require.Zero(t, n, "nothing twice")
	})
	t.Run("ExpireDue takes batches of limit", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		for range 5 {
			f.create(t, f.expiring(time.Second))
		}
		f.clock.Advance(time.Second)
		n, err := f.s.ExpireDue(f.ctx, ims.ExpiryBacklog, "expiry", 3)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		n, err = f.s.ExpireDue(f.ctx, ims.ExpiryBacklog, "expiry", 3)
		require.NoError(t, err)
		require.Equal(t, 2, n)
	})
	t.Run("a claimed message is left to its claim until its lease runs out", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.expiring(time.Second))
		got := f.claim(t, 1)
		require.Equal(t, []string{m.ID}, ids(got))
		f.clock.Advance(2 * time.Second)
		n, err := f.s.ExpireDue(f.ctx, ims.ExpiryBacklog, "expiry", 10)
		require.NoError(t, err)
		require.Zero(t, n, "the claim is still held")
		f.clock.Advance(lease)
		require.Empty(t, f.claim(t, 1), "an abandoned claim past its expiry is not claimed again")
		n, err = f.s.ExpireDue(f.ctx, ims.ExpiryBacklog, "expiry", 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, ims.StatusExpired, f.get(t, m.ID).Status)
	})
	t.Run("an outcome can expire a claimed message", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.expiring(time.Minute))
		c := f.claim(t, 1)[0]
		o := outcome(c, ims.StatusPending, f.clock.Now())
		o.Decision = ims.ExpiredDecision(ims.ExpiryRetryAfterExpiry)
		f.record(t, o)
		require.Equal(t, ims.StatusExpired, f.get(t, m.ID).Status)
		evs := f.events(t, ims.AuditFilter{MessageID: m.ID, Type: ims.EventMessageExpired})
		require.Len(t, evs, 1)
		require.Contains(t, evs[0].Details, "expired: retry_after_expiry")
	})
	t.Run("an expired message is replayed only with a new expiry", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.expiring(time.Second))
		f.clock.Advance(time.Second)
		_, err := f.s.ExpireDue(f.ctx, ims.ExpiryStopped, "expiry", 10)
		require.NoError(t, err)

		_, err = f.s.ReplayMessage(f.ctx, m.ID, actor)
		requireCode(t, ims.ECONFLICT, err)
		n, err := f.s.ReplayDeadLetters(f.ctx, actor, 10)
		require.NoError(t, err)
		require.Zero(t, n, "bulk replay is for dead letters only")

		exp := micro(f.clock.Now().Add(time.Hour))
		got, err := f.s.ReplayWithExpiry(f.ctx, m.ID, actor, exp)
		require.NoError(t, err)
		require.Equal(t, ims.StatusPending, got.Status)
		require.Zero(t, got.Attempts)
		requireTime(t, exp, *got.ExpiresAt)
		requireTime(t, f.now(), got.NextAttemptAt)
		require.Equal(t, []string{m.ID}, ids(f.claim(t, 1)))

		_, err = f.s.ReplayWithExpiry(f.ctx, m.ID, actor, exp)
		requireCode(t, ims.ECONFLICT, err)
		_, err = f.s.ReplayWithExpiry(f.ctx, "00000000-0000-7000-8000-000000000000", actor, exp)
		requireCode(t, ims.ENOTFOUND, err)
	})
	t.Run("a dead message can be given a new expiry on replay", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		dead := f.inState(t, ims.StatusDead)
		exp := micro(f.clock.Now().Add(time.Hour))
		got, err := f.s.ReplayWithExpiry(f.ctx, dead.ID, actor, exp)
		require.NoError(t, err)
		require.Equal(t, ims.StatusPending, got.Status)
		requireTime(t, exp, *got.ExpiresAt)
		evs := f.events(t, ims.AuditFilter{MessageID: dead.ID, Type: ims.EventMessageReplayed})
		require.Len(t, evs, 1)
		require.Equal(t, ims.ReplayWithExpiryDetails(exp), evs[0].Details)
	})
	t.Run("expired messages are purged", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.create(t, f.expiring(time.Second))
		f.clock.Advance(time.Second)
		_, err := f.s.ExpireDue(f.ctx, ims.ExpiryStopped, "expiry", 10)
		require.NoError(t, err)
		f.clock.Advance(time.Hour)
		n, err := f.s.PurgeMessages(f.ctx, ims.StatusExpired, f.clock.Now(), 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = f.s.GetMessage(f.ctx, m.ID)
		requireCode(t, ims.ENOTFOUND, err)
	})
	t.Run("an idempotent replay keeps the first expiry", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.expiring(time.Minute)
		nm.IdempotencyKey = "exp-key"
		first := f.create(t, nm)

		// A TTL counts from each request: a retry resolves to a later
		// instant and still gets the first message.
		retry := nm
		later := micro(nm.ExpiresAt.Add(time.Second))
		retry.ExpiresAt = &later
		res, err := f.s.CreateMessages(f.ctx, []ims.NewMessage{retry})
		require.NoError(t, err)
		require.False(t, res[0].Created)
		requireTime(t, *first.ExpiresAt, *res[0].Message.ExpiresAt)

		// An absolute expires_at must name the same instant.
		retry.ExpiryFixed = true
		_, err = f.s.CreateMessages(f.ctx, []ims.NewMessage{retry})
		requireCode(t, ims.ECONFLICT, err)
		retry.ExpiresAt = first.ExpiresAt
		res, err = f.s.CreateMessages(f.ctx, []ims.NewMessage{retry})
		require.NoError(t, err)
		require.False(t, res[0].Created)

		// Never expiring is another request.
		retry.ExpiresAt, retry.ExpiryFixed = nil, false
		_, err = f.s.CreateMessages(f.ctx, []ims.NewMessage{retry})
		requireCode(t, ims.ECONFLICT, err)
	})
}
