package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
)

// TestE2EEncodingAndSegments creates messages in Turkish, in English with
// €, and with emoji, and compares what every representation says with the
// carriers' rules.
func TestE2EEncodingAndSegments(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{Configure: func(cfg *config.Config) { cfg.MessageMaxLength = 1000 }})
		tests := []struct {
			content  string
			encoding ims.Encoding
			segments int
		}{
			{"Merhaba, siparişiniz yola çıktı.", ims.EncodingUCS2, 1},
			{"Your total is 25€ " + strings.Repeat("x", 143), ims.EncodingGSM7, 2}, // 18+143 = 161 septets with € as two
			{"Your total is 25€", ims.EncodingGSM7, 1},
			{strings.Repeat("🎉", 34) + "!!!", ims.EncodingUCS2, 2}, // 68+3 = 71 UTF-16 units
		}
		for _, tt := range tests {
			m := h.createMessage(t, phoneA, tt.content)
			require.Equal(t, tt.encoding, m.Encoding, tt.content)
			require.Equal(t, tt.segments, m.Segments, tt.content)
			got, err := h.API.GetMessage(t.Context(), m.ID)
			require.NoError(t, err)
			require.Equal(t, tt.encoding, got.Message.Encoding)
			require.Equal(t, tt.segments, got.Message.Segments)
		}
	})
}

// TestE2EQuietHoursHoldOneCountryAndNotAnother sets QUIET_HOURS to a
// two-hour window around the current local time in Tokyo, which New York
// (13 or 14 hours behind) is far from: the Tokyo message waits, pending,
// with the window's end as its next_attempt_at and a message.deferred
// event; the New York one is delivered.
func TestE2EQuietHoursHoldOneCountryAndNotAnother(t *testing.T) {
	t.Parallel()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	clock := func(t time.Time) string { return fmt.Sprintf("%02d:%02d", t.Hour(), t.Minute()) }

	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		// The window is computed here, not before the backends fan out: a
		// parallel subtest can start minutes later on a loaded machine.
		local := time.Now().In(tokyo)
		window := clock(local.Add(-time.Hour)) + "-" + clock(local.Add(time.Hour))
		q, err := ims.ParseQuietHours(window, "UTC", false)
		require.NoError(t, err)
		h := newHarness(t, b, harnessOptions{Configure: func(cfg *config.Config) {
			cfg.SchedulerInterval, cfg.SchedulerBatchSize = 0, 10
			cfg.SMS.QuietHours = q
		}})
		before := time.Now()
		held := h.createMessage(t, "+819012345678", "konnichiwa")
		sent := h.createMessage(t, "+12125551234", "good morning")
		require.Equal(t, "JP", held.Country)
		require.Equal(t, "Asia/Tokyo", held.TimeZone)
		require.Equal(t, "America/New_York", sent.TimeZone)

		h.waitStatus(t, sent.ID, ims.StatusSent)
		got, err := h.API.GetMessage(t.Context(), held.ID)
		require.NoError(t, err)
		m := got.Message
		require.Equal(t, ims.StatusPending, m.Status)
		require.Zero(t, m.Attempts)
		require.True(t, m.NextAttemptAt.After(before.Add(58*time.Minute)), "due at the window's end: %s", m.NextAttemptAt)
		require.False(t, m.NextAttemptAt.After(before.Add(61*time.Minute)), "due at the window's end: %s", m.NextAttemptAt)
		require.Empty(t, h.requestsFor(held.ID), "no webhook call inside the window")

		events := h.audit(t, client.AuditFilter{MessageID: held.ID, Type: ims.EventMessageDeferred})
		require.Len(t, events, 1)
		require.Contains(t, events[0].Details, "quiet hours "+window+" in Asia/Tokyo")
		require.Contains(t, events[0].Details, "next attempt at "+m.NextAttemptAt.UTC().Format(time.RFC3339))
	})
}
