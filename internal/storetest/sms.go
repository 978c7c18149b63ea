package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// testSMS covers the SMS-native fields (issue 10, parts 1-3): stored at
// create and read back everywhere, and quiet hours applied at create and to
// claims handed back (DeferClaims).
func testSMS(t *testing.T, open Opener) {
	t.Run("SMS fields are stored and read back", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.newMsg()
		nm.Content = "Şifreniz 1234 😀"
		nm.Encoding, nm.Segments, nm.Country, nm.TimeZone = ims.EncodingUCS2, 1, "TR", "Europe/Istanbul"
		nm.QuietHoursOptOut = true
		other := f.newMsg()
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{nm, other}))
		require.NoError(t, err)
		m := res[0].Message
		for _, got := range []ims.Message{m, f.get(t, m.ID)} {
			require.Equal(t, ims.EncodingUCS2, got.Encoding)
			require.Equal(t, 1, got.Segments)
			require.Equal(t, "TR", got.Country)
			require.Equal(t, "Europe/Istanbul", got.TimeZone)
			require.False(t, got.QuietHours, "opted out")
		}
		require.True(t, res[1].Message.QuietHours, "honours quiet hours by default")
		page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Limit: 10})
		require.NoError(t, err)
		require.Len(t, page.Messages, 2)
		for _, got := range page.Messages {
			if got.ID == m.ID {
				require.Equal(t, "TR", got.Country)
				require.False(t, got.QuietHours)
			}
		}
		claimed := f.claim(t, 10)
		require.Len(t, claimed, 2)
		for _, got := range claimed {
			require.NotZero(t, got.Segments, "claims carry the segments the rate limiter counts")
		}
	})
	t.Run("a message built without segments reads them from its content", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.newMsg()
		nm.Content = strings.Repeat("a", 161)
		m := f.create(t, nm)
		require.Equal(t, ims.EncodingGSM7, m.Encoding)
		require.Equal(t, 2, m.Segments)
		require.Equal(t, 2, f.get(t, m.ID).Segments)
	})
	t.Run("an idempotent replay must ask for the same quiet-hours opt-out", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.newMsg()
		nm.IdempotencyKey = "key-quiet"
		first := f.create(t, nm)
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{nm}))
		require.NoError(t, err)
		require.False(t, res[0].Created)
		require.Equal(t, first.ID, res[0].Message.ID)
		optOut := nm
		optOut.QuietHoursOptOut = true
		_, err = f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{optOut}))
		requireCode(t, ims.ECONFLICT, err)
		_, err = f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{optOut, nm}))
		requireCode(t, ims.ECONFLICT, err)
	})
	t.Run("quiet hours at create hold the message until the window ends", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		until := f.now().Add(3 * time.Hour)
		nm := f.newMsg()
		nm.Deferral = ims.Deferral{Until: until, Details: "quiet hours 21:00-08:00 in Europe/Istanbul"}
		m := f.create(t, nm)
		require.Equal(t, ims.StatusPending, m.Status)
		requireTime(t, until, m.NextAttemptAt)
		requireTime(t, until, f.get(t, m.ID).NextAttemptAt)
		require.Empty(t, f.claim(t, 10), "not due before the window ends")
		evs := f.events(t, ims.AuditFilter{MessageID: m.ID})
		require.Equal(t, []string{ims.EventMessageDeferred, ims.EventMessageCreated}, eventTypes(evs), "newest first")
		require.Equal(t, "quiet hours 21:00-08:00 in Europe/Istanbul", evs[0].Details)
		f.clock.Advance(3 * time.Hour)
		require.Len(t, f.claim(t, 10), 1, "due at the window's end")
	})
	t.Run("quiet hours outlasting the expiry expire the message at create", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.expiring(time.Hour)
		nm.Deferral = ims.Deferral{Until: f.now().Add(3 * time.Hour), Expire: true, Details: "window ends after its expiry"}
		ok := f.newMsg()
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{nm, ok}))
		require.NoError(t, err)
		m := res[0].Message
		require.Equal(t, ims.StatusExpired, m.Status)
		require.Equal(t, ims.StatusExpired, f.get(t, m.ID).Status)
		require.Equal(t, ims.StatusPending, res[1].Message.Status, "the rest of the batch is not affected")
		evs := f.events(t, ims.AuditFilter{MessageID: m.ID})
		require.Equal(t, []string{ims.EventMessageExpired, ims.EventMessageCreated}, eventTypes(evs), "newest first")
		require.Equal(t, "expired: quiet_hours; window ends after its expiry", evs[0].Details)
		require.Equal(t, []string{res[1].Message.ID}, ids(f.claim(t, 10)))
	})
	t.Run("DeferClaims hands a claim back uncounted, due at the window's end", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.claimOne(t)
		require.Equal(t, 1, m.Attempts)
		until := f.now().Add(2 * time.Hour)
		d := ims.DeferredClaim{Claim: m.Claim(), Deferral: ims.Deferral{Until: until, Details: "held for quiet hours"}}
		require.NoError(t, f.s.DeferClaims(f.ctx, []ims.DeferredClaim{d}, "worker:1"))
		got := f.get(t, m.ID)
		require.Equal(t, ims.StatusPending, got.Status)
		require.Equal(t, 0, got.Attempts, "no attempt counted")
		requireTime(t, until, got.NextAttemptAt)
		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Empty(t, attempts, "no call was made")
		evs := f.events(t, ims.AuditFilter{MessageID: m.ID, Type: ims.EventMessageDeferred})
		require.Len(t, evs, 1)
		require.Equal(t, "held for quiet hours", evs[0].Details)
		require.Equal(t, "worker:1", evs[0].Actor)
		require.Empty(t, f.claim(t, 10))

		// The same claim again is stale: nothing changes.
		require.NoError(t, f.s.DeferClaims(f.ctx, []ims.DeferredClaim{d}, "worker:1"))
		require.Len(t, f.events(t, ims.AuditFilter{MessageID: m.ID, Type: ims.EventMessageDeferred}), 1)
	})
	t.Run("DeferClaims expires a claim whose expiry comes first", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.claimOne(t)
		d := ims.DeferredClaim{Claim: m.Claim(),
			Deferral: ims.Deferral{Until: f.now().Add(time.Hour), Expire: true, Details: "after its expiry"}}
		require.NoError(t, f.s.DeferClaims(f.ctx, []ims.DeferredClaim{d}, "worker:1"))
		got := f.get(t, m.ID)
		require.Equal(t, ims.StatusExpired, got.Status)
		require.Equal(t, 0, got.Attempts)
		evs := f.events(t, ims.AuditFilter{MessageID: m.ID, Type: ims.EventMessageExpired})
		require.Len(t, evs, 1)
		require.Equal(t, "expired: quiet_hours; after its expiry", evs[0].Details)
	})
}

func eventTypes(evs []ims.AuditEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}
