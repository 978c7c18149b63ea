package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// The fake clock starts at 03:04 UTC: 06:04 in Istanbul (inside
// 21:00-08:00, which ends at 05:00 UTC) and 12:04 in Tokyo (outside).
func quietConfig(t *testing.T) Config {
	t.Helper()
	q, err := ims.ParseQuietHours("21:00-08:00", "UTC", false)
	require.NoError(t, err)
	return Config{Interval: 0, BatchSize: 10, AutoStart: true, QuietHours: q}
}

func TestQuietHoursHoldAClaimedMessage(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeDB, ModeRabbitMQ} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var b *bundle
			if mode == ModeDB {
				b = setup(t, quietConfig(t))
			} else {
				cfg := quietConfig(t)
				cfg.Mode = ModeRabbitMQ
				b, _ = setupQueue(t, cfg)
			}
			exp := b.clock.Now().Add(time.Hour) // before Istanbul's window ends
			ids := b.createWith(t,
				ims.NewMessage{PhoneNumber: "+905551234567", Content: "istanbul", TimeZone: "Europe/Istanbul"},
				ims.NewMessage{PhoneNumber: "+819012345678", Content: "tokyo", TimeZone: "Asia/Tokyo"},
				ims.NewMessage{PhoneNumber: "+905551234568", Content: "otp", TimeZone: "Europe/Istanbul", Priority: ims.PriorityHigh},
				ims.NewMessage{PhoneNumber: "+905551234569", Content: "opted out", TimeZone: "Europe/Istanbul", QuietHoursOptOut: true},
				ims.NewMessage{PhoneNumber: "+905551234560", Content: "short-lived", TimeZone: "Europe/Istanbul", ExpiresAt: &exp},
			)
			istanbul, tokyo, high, optedOut, shortLived := ids[0], ids[1], ids[2], ids[3], ids[4]
			b.run(t)

			b.waitStatus(t, tokyo, ims.StatusSent)
			b.waitStatus(t, high, ims.StatusSent)
			b.waitStatus(t, optedOut, ims.StatusSent)
			expired := b.waitStatus(t, shortLived, ims.StatusExpired)
			require.Zero(t, expired.Attempts, "no attempt counted")

			windowEnd := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
			var held ims.Message
			require.Eventually(t, func() bool {
				m, err := b.store.GetMessage(context.Background(), istanbul)
				require.NoError(t, err)
				held = m
				return m.Status == ims.StatusPending && m.NextAttemptAt.Equal(windowEnd)
			}, 10*time.Second, 5*time.Millisecond)
			require.Zero(t, held.Attempts, "no attempt counted")
			require.NotContains(t, b.hook.callIDs(), istanbul, "no webhook call inside the window")
			require.NotContains(t, b.hook.callIDs(), shortLived)

			ev := events(t, b, istanbul, ims.EventMessageDeferred)
			require.Len(t, ev, 1)
			require.Contains(t, ev[0].Details, "quiet hours 21:00-08:00 in Europe/Istanbul (local time 06:04): next attempt at 2026-01-02T05:00:00Z (08:00 local)")
			ev = events(t, b, shortLived, ims.EventMessageExpired)
			require.Len(t, ev, 1)
			require.Contains(t, ev[0].Details, "expired: quiet_hours; quiet hours 21:00-08:00 in Europe/Istanbul")

			b.clock.Advance(2 * time.Hour) // 08:04 in Istanbul
			b.waitStatus(t, istanbul, ims.StatusSent)
		})
	}
}

func events(t *testing.T, b *bundle, id, typ string) []ims.AuditEvent {
	t.Helper()
	page, err := b.store.ListAudit(context.Background(), ims.AuditFilter{MessageID: id, Type: typ, Limit: 10})
	require.NoError(t, err)
	return page.Events
}
