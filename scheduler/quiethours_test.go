package scheduler

import (
	"context"
	"strings"
	"sync"
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
			// advanceUntil also steps the clock: the loop may have armed its
			// wait after the jump (a wakeup raced it).
			b.advanceUntil(t, istanbul, ims.StatusSent)
		})
	}
}

func events(t *testing.T, b *bundle, id, typ string) []ims.AuditEvent {
	t.Helper()
	page, err := b.store.ListAudit(context.Background(), ims.AuditFilter{MessageID: id, Type: typ, Limit: 10})
	require.NoError(t, err)
	return page.Events
}

// WEBHOOK_RATE_UNIT=segments: 3 segments per second with 3-segment
// messages is one message per second over time. A claim takes a token per
// message and is then charged the other two, so the fleet sends the burst,
// waits until the debt is paid, and so on: 3 messages every 3 seconds.
func TestRateLimitCountsSegments(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 10, Concurrency: 4, AutoStart: true,
		Rate: ims.RatePolicy{Limit: 3, Burst: 3}, RateUnit: ims.RateUnitSegments})
	long := strings.Repeat("a", 400) // 3 GSM parts
	var msgs []ims.NewMessage
	for _, p := range phones(30) {
		msgs = append(msgs, ims.NewMessage{PhoneNumber: p, Content: long})
	}
	b.createWith(t, msgs...)
	b.run(t)
	require.Eventually(t, func() bool { return len(b.hook.callIDs()) >= 3 }, 10*time.Second, 5*time.Millisecond)
	settle(t, b)
	require.Len(t, b.hook.callIDs(), 3, "the burst: three messages, nine segments")
	for k := 1; k <= 6; k++ {
		b.clock.Advance(time.Second)
		want := 3 * (1 + k/3)
		require.Eventually(t, func() bool { return len(b.hook.callIDs()) >= want }, 10*time.Second, 5*time.Millisecond)
		settle(t, b)
		require.Len(t, b.hook.callIDs(), want, "3 segments/s after %ds", k)
	}
}

// A message claimed just before its recipient's window opens, that waits
// for the one worker until the window is open, is not called: the worker
// hands it back, due at the window's end, its attempt not counted.
func TestQuietHoursHoldAMessageThatWaitedIntoTheWindow(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeDB, ModeRabbitMQ} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			q, err := ims.ParseQuietHours("06:05-08:00", "UTC", false) // opens a minute after the fake clock's 06:04:05 in Istanbul
			require.NoError(t, err)
			cfg := Config{Interval: 0, BatchSize: 10, Concurrency: 1, AutoStart: true, ShutdownTimeout: time.Minute, QuietHours: q}
			var b *bundle
			if mode == ModeDB {
				b = setup(t, cfg)
			} else {
				b, _ = setupQueue(t, cfg)
			}
			b.hook.block = make(chan struct{})
			ids := b.createWith(t,
				ims.NewMessage{PhoneNumber: "+905551234567", Content: "a", TimeZone: "Europe/Istanbul"},
				ims.NewMessage{PhoneNumber: "+905551234568", Content: "b", TimeZone: "Europe/Istanbul"})
			b.run(t)
			var unblock sync.Once
			release := func() { unblock.Do(func() { close(b.hook.block) }) }
			t.Cleanup(release)

			require.Eventually(t, func() bool {
				return len(b.hook.callIDs()) == 1 && b.count(t, ims.StatusSending) == 2
			}, 10*time.Second, 5*time.Millisecond)
			called := b.hook.callIDs()[0]
			waiting := ids[0]
			if waiting == called {
				waiting = ids[1]
			}
			b.clock.Advance(61 * time.Second) // inside the window, well inside the lease
			release()

			b.waitStatus(t, called, ims.StatusSent)
			var m ims.Message
			require.Eventually(t, func() bool {
				got, err := b.store.GetMessage(context.Background(), waiting)
				require.NoError(t, err)
				m = got
				return got.Status == ims.StatusPending
			}, 10*time.Second, 5*time.Millisecond)
			require.Equal(t, time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC), m.NextAttemptAt)
			require.Zero(t, m.Attempts, "no attempt counted")
			require.Equal(t, []string{called}, b.hook.callIDs(), "no call inside the window")
			require.Len(t, events(t, b, waiting, ims.EventMessageDeferred), 1)
		})
	}
}
