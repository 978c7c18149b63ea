package ims_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// TestCreateDescribesSMS drives the one validation path of single and batch
// creates for encoding, segments, the recipient and quiet hours.
func TestCreateDescribesSMS(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 10, 19, 30, 0, 0, time.UTC) // 22:30 in Istanbul, 20:30 in London
	quiet := mustQuiet(t, "21:00-08:00", "", false)
	input := func(phone, content string) ims.MessageInput {
		return ims.MessageInput{PhoneNumber: ptr(phone), Content: ptr(content)}
	}
	tests := []struct {
		name     string
		in       ims.MessageInput
		rules    ims.CreateRules
		check    func(t *testing.T, nm ims.NewMessage)
		problems map[string]string // field → substring of its problem
	}{
		{name: "Turkish text to a Turkish number", in: input("+905551234567", "Şifreniz 1234"),
			rules: ims.CreateRules{Now: now},
			check: func(t *testing.T, nm ims.NewMessage) {
				require.Equal(t, ims.EncodingUCS2, nm.Encoding)
				require.Equal(t, 1, nm.Segments)
				require.Equal(t, "TR", nm.Country)
				require.Equal(t, "Europe/Istanbul", nm.TimeZone)
				require.False(t, nm.Deferral.Deferred(), "quiet hours off")
			}},
		{name: "a number of several zones gets the default", in: input("+447400123456", "hi"),
			rules: ims.CreateRules{Now: now, QuietHours: mustQuiet(t, "", "Europe/London", false)},
			check: func(t *testing.T, nm ims.NewMessage) {
				require.Equal(t, "GB", nm.Country)
				require.Equal(t, "Europe/London", nm.TimeZone)
			}},
		{name: "no default zone is UTC", in: input("+1234567890", "hi"), rules: ims.CreateRules{Now: now},
			check: func(t *testing.T, nm ims.NewMessage) { require.Equal(t, "", nm.Country) }},
		{name: "over MESSAGE_MAX_SEGMENTS", in: input("+905551234567", strings.Repeat("ş", 71)),
			rules:    ims.CreateRules{Now: now, MaxSegments: 1, MaxContentLength: 1000},
			problems: map[string]string{"content": `at most 1 SMS segments, got 2 (ucs2, 71 UTF-16 units); "ş"`}},
		{name: "at MESSAGE_MAX_SEGMENTS", in: input("+905551234567", strings.Repeat("a", 306)),
			rules: ims.CreateRules{Now: now, MaxSegments: 2, MaxContentLength: 1000},
			check: func(t *testing.T, nm ims.NewMessage) { require.Equal(t, 2, nm.Segments) }},
		{name: "strict rejects the brief's example", in: input("+1234567890", "hi"),
			rules:    ims.CreateRules{Now: now, PhoneValidation: ims.PhoneStrict},
			problems: map[string]string{"phone_number": "too short"}},
		{name: "e164 keeps the brief's example", in: input("+1234567890", "hi"), rules: ims.CreateRules{Now: now},
			check: func(t *testing.T, nm ims.NewMessage) { require.Equal(t, "+1234567890", nm.PhoneNumber) }},
		{name: "held by quiet hours in Istanbul", in: input("+905551234567", "hi"),
			rules: ims.CreateRules{Now: now, QuietHours: quiet},
			check: func(t *testing.T, nm ims.NewMessage) {
				require.Equal(t, time.Date(2026, 6, 11, 5, 0, 0, 0, time.UTC), nm.Deferral.Until)
				require.False(t, nm.Deferral.Expire)
			}},
		{name: "not held in Tokyo's morning", in: input("+819012345678", "hi"),
			rules: ims.CreateRules{Now: now.Add(-9 * time.Hour), QuietHours: quiet}, // 19:30 in Tokyo
			check: func(t *testing.T, nm ims.NewMessage) { require.False(t, nm.Deferral.Deferred()) }},
		{name: "opted out", in: func() ims.MessageInput {
			in := input("+905551234567", "hi")
			in.QuietHours = ptr(false)
			return in
		}(), rules: ims.CreateRules{Now: now, QuietHours: quiet},
			check: func(t *testing.T, nm ims.NewMessage) {
				require.True(t, nm.QuietHoursOptOut)
				require.False(t, nm.Deferral.Deferred())
			}},
		{name: "send_at outside the window is not held", in: func() ims.MessageInput {
			in := input("+905551234567", "hi")
			in.SendAt = ptr("2026-06-11T06:00:00Z")
			return in
		}(), rules: ims.CreateRules{Now: now, QuietHours: quiet},
			check: func(t *testing.T, nm ims.NewMessage) { require.False(t, nm.Deferral.Deferred()) }},
		{name: "a TTL ending inside the window expires it", in: func() ims.MessageInput {
			in := input("+905551234567", "hi")
			in.TTLSeconds = ptr(int64(3600))
			return in
		}(), rules: ims.CreateRules{Now: now, QuietHours: quiet},
			check: func(t *testing.T, nm ims.NewMessage) { require.True(t, nm.Deferral.Expire) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, batch := range []bool{false, true} {
				var nm ims.NewMessage
				var err error
				prefix := ""
				if batch {
					var msgs []ims.NewMessage
					msgs, err = ims.ValidateBatch([]ims.MessageInput{tt.in}, tt.rules, "")
					if err == nil {
						nm = msgs[0]
					}
					prefix = "messages[0]."
				} else {
					nm, err = tt.in.Validate(tt.rules, "")
				}
				if len(tt.problems) == 0 {
					require.NoError(t, err)
					tt.check(t, nm)
					continue
				}
				var e *ims.Error
				require.True(t, errors.As(err, &e), "err %v", err)
				require.Equal(t, ims.EINVALID, e.Code)
				details, _ := e.Details.(map[string]string)
				for field, want := range tt.problems {
					require.Contains(t, details[prefix+field], want)
				}
			}
		})
	}
}
