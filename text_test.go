package ims_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestCheckText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // "" = accepted; else a word of the problem
	}{
		{"plain", "hello", ""},
		{"empty", "", ""},
		{"newline and tab", "line 1\nline\t2", ""},
		{"emoji and accents", "héllo 👋 ğ", ""},
		{"NUL", "a\x00b", "NUL"},
		{"invalid UTF-8", "a\xffb", "UTF-8"},
		{"encoded surrogate", "a\xed\xa0\x80b", "UTF-8"},
		{"carriage return", "a\rb", "control"},
		{"escape", "a\x1b[31mb", "control"},
		{"DEL", "a\x7fb", "control"},
		{"C1 control", "a\u0085b", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ims.CheckText(tt.in)
			if tt.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, got, tt.want)
		})
	}
}

func TestIsBlank(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		blank bool
	}{
		{"empty", "", true},
		{"spaces", "  \t\n ", true},
		{"zero-width space", "\u200b", true},
		{"zero-width joiners and BOM", "\u200c\u200d\ufeff\u2060", true},
		{"no-break and ideographic spaces", "\u00a0\u3000", true},
		{"soft hyphen", "\u00ad", true},
		{"variation selector", "\ufe0f", true},
		{"hangul filler", "\u3164", true},
		{"text", "hi", false},
		{"text between invisibles", "\u200bhi\u200b", false},
		{"emoji", "👍", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.blank, ims.IsBlank(tt.in))
		})
	}
}

func TestValidateSendAtBounds(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		sendAt  string
		horizon time.Duration
		problem string // "" = accepted
	}{
		{"now", "2026-01-02T15:04:05Z", 0, ""},
		{"a day ago is still now", "2026-01-01T15:04:05Z", 0, ""},
		{"just over a day ago", "2026-01-01T15:04:04Z", 0, "in the past"},
		{"year 1", "0001-01-01T00:00:00Z", 0, "in the past"},
		{"a year ahead", "2027-01-02T15:04:05Z", 0, ""},
		{"just past the default horizon", "2027-01-02T15:04:06Z", 0, "8760h ahead"},
		{"past a configured horizon", "2026-01-03T15:04:06Z", 24 * time.Hour, "24h ahead"},
		{"year 10000 after conversion to UTC", "9999-12-31T23:59:59-23:59", 0, "ahead"},
		{"year 10000 with a huge horizon", "9999-12-31T23:59:59-23:59", 1 << 62, "ahead"},
		{"nanoseconds are kept to the microsecond", "2026-01-02T15:04:05.123456789Z", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr("hi"), SendAt: ptr(tt.sendAt)}
			nm, err := in.Validate(ims.CreateRules{SendAtHorizon: tt.horizon, Now: now}, "")
			if tt.problem == "" {
				require.NoError(t, err)
				require.NotNil(t, nm.SendAt)
				require.Equal(t, time.UTC, nm.SendAt.Location())
				require.Zero(t, nm.SendAt.Nanosecond()%1000, "stored precision is the microsecond")
				return
			}
			details, ok := ims.ErrorDetails(err).(map[string]string)
			require.True(t, ok, "error: %v", err)
			require.Contains(t, details["send_at"], tt.problem)
		})
	}
}

func TestValidateHostileText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		key     string
		field   string
	}{
		{"NUL in content", "a\x00b", "", "content"},
		{"escape in content", "a\x1bb", "", "content"},
		{"invalid UTF-8 in content", "a\xffb", "", "content"},
		{"zero-width space is blank", "\u200b\u200b", "", "content"},
		{"non-UTF-8 key", "hi", "k\xff", "Idempotency-Key"},
		{"NUL in key", "hi", "k\x00", "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr(tt.content)}
			_, err := in.Validate(ims.CreateRules{Now: time.Now()}, tt.key)
			details, ok := ims.ErrorDetails(err).(map[string]string)
			require.True(t, ok, "error: %v", err)
			require.Contains(t, details, tt.field)
			require.Len(t, details, 1)

			// The batch takes the same path, per item.
			_, err = ims.ValidateBatch([]ims.MessageInput{in}, ims.CreateRules{Now: time.Now()}, tt.key)
			details, ok = ims.ErrorDetails(err).(map[string]string)
			require.True(t, ok, "error: %v", err)
			if tt.field == "Idempotency-Key" {
				require.Contains(t, details, tt.field)
			} else {
				require.Contains(t, details, "messages[0]."+tt.field)
			}
		})
	}
}

func TestValidateBatchKeys(t *testing.T) {
	t.Parallel()
	items := []ims.MessageInput{
		{PhoneNumber: ptr("+905551234567"), Content: ptr("one")},
		{PhoneNumber: ptr("+905551234567"), Content: ptr("two")},
	}
	msgs, err := ims.ValidateBatch(items, ims.CreateRules{MaxBatchSize: 10, Now: time.Now()}, "order-7")
	require.NoError(t, err)
	require.Equal(t, "order-7#1", msgs[1].IdempotencyKey)
	require.Equal(t, ims.ScopeBatch, msgs[1].IdempotencyScope, "batch keys live apart from single keys")

	msgs, err = ims.ValidateBatch(items, ims.CreateRules{MaxBatchSize: 10, Now: time.Now()}, "")
	require.NoError(t, err)
	require.Empty(t, msgs[0].IdempotencyKey)

	single, err := items[0].Validate(ims.CreateRules{Now: time.Now()}, "order-7#0")
	require.NoError(t, err)
	require.Equal(t, ims.ScopeSingle, single.IdempotencyScope)

	_, err = ims.ValidateBatch(items, ims.CreateRules{MaxBatchSize: 1000, Now: time.Now()}, strings.Repeat("k", 251))
	require.Contains(t, ims.ErrorDetails(err), "Idempotency-Key", "room is left for #999")
}

func TestSameRequest(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)
	later := at.Add(time.Hour)
	base := ims.NewMessage{PhoneNumber: "+905551234567", Content: "hi", SendAt: &at, IdempotencyKey: "k"}
	with := func(f func(*ims.NewMessage)) ims.NewMessage {
		nm := base
		f(&nm)
		return nm
	}
	tests := []struct {
		name  string
		other ims.NewMessage
		same  bool
	}{
		{"identical", base, true},
		{"same instant in another zone", with(func(nm *ims.NewMessage) { z := at.In(time.FixedZone("+3", 3*3600)); nm.SendAt = &z }), true},
		{"nanoseconds below the stored precision", with(func(nm *ims.NewMessage) { z := at.Add(999); nm.SendAt = &z }), true},
		{"another actor is the same request", with(func(nm *ims.NewMessage) { nm.Actor = "api:2" }), true},
		{"other phone", with(func(nm *ims.NewMessage) { nm.PhoneNumber = "+14155550100" }), false},
		{"other content", with(func(nm *ims.NewMessage) { nm.Content = "ho" }), false},
		{"other send_at", with(func(nm *ims.NewMessage) { nm.SendAt = &later }), false},
		{"send_at dropped", with(func(nm *ims.NewMessage) { nm.SendAt = nil }), false},
		{"quiet hours opted out", with(func(nm *ims.NewMessage) { nm.QuietHoursOptOut = true }), false},
		{"other callback URL", with(func(nm *ims.NewMessage) { nm.CallbackURL = "https://example.com/cb" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.same, ims.SameRequest(base, tt.other))
			require.Equal(t, tt.same, ims.SameRequest(tt.other, base), "symmetric")
		})
	}
	m := ims.Message{PhoneNumber: base.PhoneNumber, Content: base.Content, SendAt: &at, QuietHours: true}
	require.True(t, ims.SameRequest(base, m.Request()))
	m.QuietHours = false
	require.False(t, ims.SameRequest(base, m.Request()), "a stored opt-out is another request")
	m.QuietHours, m.CallbackURL = true, "https://example.com/cb"
	require.False(t, ims.SameRequest(base, m.Request()), "a stored callback URL is another request")
}
