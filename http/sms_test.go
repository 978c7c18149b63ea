package http

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestCreateShowsEncodingSegmentsAndRecipient(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.cfg.MaxContentLength = 1000 })
	tests := []struct {
		name, phone, content string
		encoding             ims.Encoding
		segments             int
		country, zone        string
	}{
		{name: "Turkish", phone: "+905551234567", content: "Merhaba! Şifreniz 1234, kimseyle paylaşmayın.",
			encoding: ims.EncodingUCS2, segments: 1, country: "TR", zone: "Europe/Istanbul"},
		{name: "English with a euro sign", phone: "+447400123456", content: strings.Repeat("a", 158) + "€",
			encoding: ims.EncodingGSM7, segments: 1, country: "GB", zone: "UTC"},
		{name: "English with a euro sign over one SMS", phone: "+447400123456", content: strings.Repeat("a", 159) + "€",
			encoding: ims.EncodingGSM7, segments: 2, country: "GB", zone: "UTC"},
		{name: "emoji", phone: "+819012345678", content: strings.Repeat("😀", 36),
			encoding: ims.EncodingUCS2, segments: 2, country: "JP", zone: "Asia/Tokyo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := b.createMessage(t, tt.phone, tt.content)
			got := decode[messageDetail](t, b.do(t, request{method: "GET", path: "/api/messages/" + m.ID}), http.StatusOK).Message
			for _, m := range []ims.Message{m, got} {
				require.Equal(t, tt.encoding, m.Encoding)
				require.Equal(t, tt.segments, m.Segments)
				require.Equal(t, tt.country, m.Country)
				require.Equal(t, tt.zone, m.TimeZone)
				require.True(t, m.QuietHours)
			}
		})
	}
}

func TestCreateRejectsTooManySegments(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.cfg.MaxSegments, o.cfg.MaxContentLength = 1, 1000 })
	long := strings.Repeat("a", 70) + "ş"
	e := decode[apiError](t, b.do(t, request{method: "POST", path: "/api/messages",
		body: `{"phone_number": "+905551234567", "content": "` + long + `"}`}), http.StatusUnprocessableEntity)
	require.Contains(t, e.Details["content"], `at most 1 SMS segments, got 2 (ucs2, 71 UTF-16 units); "ş" (U+015F)`)
	e = decode[apiError](t, b.do(t, request{method: "POST", path: "/api/messages/batch",
		body: `{"messages": [{"phone_number": "+905551234567", "content": "ok"},
			{"phone_number": "+905551234567", "content": "` + long + `"}]}`}), http.StatusUnprocessableEntity)
	require.Contains(t, e.Details["messages[1].content"], "got 2")
	require.Zero(t, b.countMessages(t), "nothing is stored")
}

func TestStrictPhoneValidation(t *testing.T) {
	t.Parallel()
	strict := setup(t, func(o *setupOptions) { o.cfg.PhoneValidation = ims.PhoneStrict })
	e := decode[apiError](t, strict.do(t, request{method: "POST", path: "/api/messages",
		body: `{"phone_number": "+1234567890", "content": "x"}`}), http.StatusUnprocessableEntity)
	require.Contains(t, e.Details["phone_number"], "too short")
	require.Zero(t, strict.countMessages(t))
	strict.createMessage(t, "+905551234567", "a valid Turkish mobile")

	lax := setup(t)
	m := lax.createMessage(t, "+1234567890", "the brief's example")
	require.Equal(t, "", m.Country)
}

func TestCreateInsideQuietHours(t *testing.T) {
	t.Parallel()
	// Now is 15:04 UTC: 00:04 in Tokyo (inside 23:00-07:00, which ends at
	// 22:00 UTC) and 18:04 in Istanbul (outside).
	q, err := ims.ParseQuietHours("23:00-07:00", "", false)
	require.NoError(t, err)
	b := setup(t, func(o *setupOptions) { o.cfg.QuietHours = q })

	tokyo := b.createMessage(t, "+819012345678", "konnichiwa")
	require.Equal(t, ims.StatusPending, tokyo.Status)
	require.Equal(t, time.Date(2026, 1, 2, 22, 0, 0, 0, time.UTC), tokyo.NextAttemptAt, "due at the window's end")
	page, err := b.store.ListAudit(context.Background(), ims.AuditFilter{MessageID: tokyo.ID, Type: ims.EventMessageDeferred, Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	require.Contains(t, page.Events[0].Details, "quiet hours 23:00-07:00 in Asia/Tokyo (local time 00:04): next attempt at 2026-01-02T22:00:00Z (07:00 local)")

	istanbul := b.createMessage(t, "+905551234567", "merhaba")
	require.Equal(t, b.now, istanbul.NextAttemptAt, "outside the window: due now")

	optOut := decode[ims.Message](t, b.do(t, request{method: "POST", path: "/api/messages",
		body: `{"phone_number": "+819012345678", "content": "otp", "quiet_hours": false}`}), http.StatusCreated)
	require.False(t, optOut.QuietHours)
	require.Equal(t, b.now, optOut.NextAttemptAt)

	high := decode[ims.Message](t, b.do(t, request{method: "POST", path: "/api/messages",
		body: `{"phone_number": "+819012345678", "content": "otp", "priority": "high"}`}), http.StatusCreated)
	require.Equal(t, b.now, high.NextAttemptAt, "high is exempt")

	expired := decode[ims.Message](t, b.do(t, request{method: "POST", path: "/api/messages",
		body: `{"phone_number": "+819012345678", "content": "flash sale", "ttl_seconds": 3600}`}), http.StatusCreated)
	require.Equal(t, ims.StatusExpired, expired.Status, "its expiry comes before the window ends")

	batch := decode[batchResponse](t, b.do(t, request{method: "POST", path: "/api/messages/batch",
		body: `{"messages": [{"phone_number": "+819012345678", "content": "a"},
			{"phone_number": "+819012345678", "content": "b", "quiet_hours": false}]}`}), http.StatusCreated)
	require.Equal(t, time.Date(2026, 1, 2, 22, 0, 0, 0, time.UTC), batch.Messages[0].NextAttemptAt)
	require.Equal(t, b.now, batch.Messages[1].NextAttemptAt)
}
