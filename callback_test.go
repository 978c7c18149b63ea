package ims_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestCallbackStatusesAreFinal(t *testing.T) {
	t.Parallel()
	for _, s := range ims.CallbackStatuses {
		require.True(t, s.Final(), "%s", s)
	}
}

func TestCheckCallbackURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, problem string
	}{
		{"https", "https://example.com/cb?token=x", ""},
		{"http with port", "http://127.0.0.1:9000/cb", ""},
		{"ftp", "ftp://example.com/cb", "http or https"},
		{"relative", "/cb", "http or https"},
		{"no host", "https:///cb", "http or https"},
		{"credentials", "https://u:p@example.com/", "credentials"},
		{"too long", "https://example.com/" + strings.Repeat("a", ims.MaxCallbackURLLength), "at most"},
		{"control character", "https://example.com/\x01", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ims.CheckCallbackURL(tt.url)
			if tt.name == "control character" {
				require.NotEmpty(t, got)
				return
			}
			if tt.problem == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, got, tt.problem)
		})
	}
}

func TestCallbackURLOnCreate(t *testing.T) {
	t.Parallel()
	rules := ims.CreateRules{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	in := ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr("hi"), CallbackURL: ptr("https://cb.example/x")}
	nm, err := in.Validate(rules, "")
	require.NoError(t, err)
	require.Equal(t, "https://cb.example/x", nm.CallbackURL)

	in.CallbackURL = ptr("mailto:someone@example.com")
	_, err = in.Validate(rules, "")
	require.Equal(t, ims.EINVALID, ims.ErrorCode(err))
	require.Contains(t, err.(*ims.Error).Details.(map[string]string)["callback_url"], "http or https")
}

func TestDecideCallback(t *testing.T) {
	t.Parallel()
	p := ims.RetryPolicy{MaxRetries: 2, BaseDelay: time.Second, MaxDelay: time.Minute}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		attempts int
		ok       bool
		wantNext time.Duration // 0: no retry
	}{
		{"success", 1, true, 0},
		{"first failure retries after the base delay", 1, false, time.Second},
		{"second failure doubles", 2, false, 2 * time.Second},
		{"after MaxRetries retries it gives up", 3, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ims.Callback{ID: 7, Attempts: tt.attempts}
			r := ims.DecideCallback(p, c, tt.ok, "HTTP 500", now, 0.9999999)
			require.Equal(t, tt.ok, r.OK)
			require.Equal(t, int64(7), r.ID)
			require.Equal(t, tt.attempts, r.Attempt)
			if tt.wantNext == 0 {
				require.True(t, r.NextAttemptAt.IsZero())
				return
			}
			require.WithinDuration(t, now.Add(tt.wantNext), r.NextAttemptAt, time.Millisecond)
		})
	}
}

func TestCallbackPayload(t *testing.T) {
	t.Parallel()
	c := ims.Callback{ID: 42, MessageID: "m-1", Status: ims.StatusSent, DeliveryStatus: ims.DeliveryDelivered,
		ProviderMessageID: "p-1", At: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}
	b, err := c.Payload()
	require.NoError(t, err)
	require.JSONEq(t, `{"message_id":"m-1","status":"sent","delivery_status":"delivered","provider_message_id":"p-1","error":"","at":"2026-01-02T03:04:05.000006Z"}`, string(b))
	require.Equal(t, "cb_42", c.WebhookID())
}
