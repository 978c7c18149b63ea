package ims_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func ptr[T any](v T) *T { return &v }

func TestRetryPolicyBackoff(t *testing.T) {
	t.Parallel()
	p := ims.RetryPolicy{MaxRetries: 5, BaseDelay: time.Second, MaxDelay: 10 * time.Second}
	tests := []struct {
		name   string
		n      int
		jitter float64
		want   time.Duration
	}{
		{"first retry, no jitter: half the base", 1, 0, 500 * time.Millisecond},
		{"first retry, max jitter: almost the base", 1, 0.999999, time.Second - time.Microsecond},
		{"doubles", 3, 0, 2 * time.Second},
		{"capped", 10, 0, 5 * time.Second},
		{"capped with jitter", 10, 0.5, 7500 * time.Millisecond},
		{"bad jitter ignored", 1, 7, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, float64(tt.want), float64(p.Backoff(tt.n, tt.jitter)), float64(time.Microsecond))
		})
	}
}

func TestRetryPolicyDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := ims.RetryPolicy{MaxRetries: 3, BaseDelay: 2 * time.Second, MaxDelay: time.Minute}
	tests := []struct {
		name     string
		attempt  int
		result   ims.DeliveryResult
		status   ims.Status
		nextWait time.Duration
	}{
		{"202 is sent", 1, ims.DeliveryResult{StatusCode: 202}, ims.StatusSent, 0},
		{"204 is sent", 1, ims.DeliveryResult{StatusCode: 204}, ims.StatusSent, 0},
		{"500 is retried", 1, ims.DeliveryResult{StatusCode: 500}, ims.StatusPending, time.Second},
		{"500 on the last retry is dead", 4, ims.DeliveryResult{StatusCode: 500}, ims.StatusDead, 0},
		{"third attempt still retried", 3, ims.DeliveryResult{StatusCode: 502}, ims.StatusPending, 4 * time.Second},
		{"400 is permanent", 1, ims.DeliveryResult{StatusCode: 400}, ims.StatusDead, 0},
		{"404 is permanent", 1, ims.DeliveryResult{StatusCode: 404}, ims.StatusDead, 0},
		{"408 is retried", 1, ims.DeliveryResult{StatusCode: 408}, ims.StatusPending, time.Second},
		{"425 is retried", 1, ims.DeliveryResult{StatusCode: 425}, ims.StatusPending, time.Second},
		{"429 honours Retry-After", 1, ims.DeliveryResult{StatusCode: 429, RetryAfter: 30 * time.Second}, ims.StatusPending, 30 * time.Second},
		{"503 honours Retry-After", 1, ims.DeliveryResult{StatusCode: 503, RetryAfter: 7 * time.Second}, ims.StatusPending, 7 * time.Second},
		{"500 ignores Retry-After", 1, ims.DeliveryResult{StatusCode: 500, RetryAfter: 30 * time.Second}, ims.StatusPending, time.Second},
		{"absurd Retry-After capped at a day", 1, ims.DeliveryResult{StatusCode: 429, RetryAfter: 1000 * time.Hour}, ims.StatusPending, 24 * time.Hour},
		{"3xx is a retried failure", 1, ims.DeliveryResult{StatusCode: 302}, ims.StatusPending, time.Second},
		{"network error is retried", 1, ims.DeliveryResult{Err: "timeout"}, ims.StatusPending, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := p.Decide(tt.attempt, tt.result, now, 0)
			require.Equal(t, tt.status, d.Status, d.Reason)
			require.NotEmpty(t, d.Reason)
			if tt.status == ims.StatusPending {
				require.Equal(t, now.Add(tt.nextWait), d.NextAttemptAt)
			}
		})
	}
}

func TestMessageInputValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        ims.MessageInput
		key       string
		badFields []string
	}{
		{"valid", ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr("hi")}, "", nil},
		{"valid with send_at", ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr("hi"), SendAt: ptr("2030-01-02T03:04:05+03:00")}, "k", nil},
		{"160 runes of multi-byte text", ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr(strings.Repeat("ğ", 160))}, "", nil},
		{"161 runes", ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr(strings.Repeat("a", 161))}, "", []string{"content"}},
		{"missing everything", ims.MessageInput{}, "", []string{"phone_number", "content"}},
		{"no plus", ims.MessageInput{PhoneNumber: ptr("905551234567"), Content: ptr("hi")}, "", []string{"phone_number"}},
		{"letters", ims.MessageInput{PhoneNumber: ptr("+90555ABC4567"), Content: ptr("hi")}, "", []string{"phone_number"}},
		{"too long number", ims.MessageInput{PhoneNumber: ptr("+1234567890123456"), Content: ptr("hi")}, "", []string{"phone_number"}},
		{"leading zero", ims.MessageInput{PhoneNumber: ptr("+0555123456"), Content: ptr("hi")}, "", []string{"phone_number"}},
		{"blank content", ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr("   ")}, "", []string{"content"}},
		{"bad send_at", ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr("hi"), SendAt: ptr("tomorrow")}, "", []string{"send_at"}},
		{"long idempotency key", ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr("hi")}, strings.Repeat("k", 256), []string{"Idempotency-Key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nm, err := tt.in.Validate(ims.CreateRules{MaxContentLength: 160, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, tt.key)
			if tt.badFields == nil {
				require.NoError(t, err)
				require.Equal(t, *tt.in.PhoneNumber, nm.PhoneNumber)
				require.Equal(t, tt.key, nm.IdempotencyKey)
				if tt.in.SendAt != nil {
					require.Equal(t, time.UTC, nm.SendAt.Location())
				}
				return
			}
			require.Equal(t, ims.EINVALID, ims.ErrorCode(err))
			details, ok := ims.ErrorDetails(err).(map[string]string)
			require.True(t, ok)
			for _, f := range tt.badFields {
				require.Contains(t, details, f)
			}
			require.Len(t, details, len(tt.badFields))
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", ims.ErrorCode(nil))
	require.Equal(t, ims.EINTERNAL, ims.ErrorCode(errPlain("boom")))
	require.Equal(t, "internal error", ims.ErrorMessage(errPlain("secret detail")), "internal details never shown")
	wrapped := ims.Errorf(ims.ENOTFOUND, "message %s not found", "x")
	require.Equal(t, ims.ENOTFOUND, ims.ErrorCode(wrapped))
	require.Equal(t, "message x not found", ims.ErrorMessage(wrapped))
}

type errPlain string

func (e errPlain) Error() string { return string(e) }

func TestStatusValid(t *testing.T) {
	t.Parallel()
	for _, s := range ims.Statuses {
		require.True(t, s.Valid())
	}
	require.False(t, ims.Status("bogus").Valid())
}

func TestPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		requested int
		want      int
	}{
		{"none: default", 0, ims.DefaultPageLimit},
		{"negative: default", -1, ims.DefaultPageLimit},
		{"as asked", 7, 7},
		{"capped", 5000, ims.MaxPageLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ims.PageLimit(tt.requested))
		})
	}

	full := ims.NewMessagePage([]ims.Message{{ID: "b"}, {ID: "a"}}, 2)
	require.Equal(t, "a", full.NextCursor, "a full page points at its last item")
	short := ims.NewMessagePage([]ims.Message{{ID: "b"}}, 2)
	require.Empty(t, short.NextCursor, "a short page ends the list")
	require.NotNil(t, ims.NewMessagePage(nil, 2).Messages, "empty lists are [] in JSON, not null")
	require.Equal(t, "3", ims.NewAuditPage([]ims.AuditEvent{{ID: 4}, {ID: 3}}, 2).NextCursor)
	require.NotNil(t, ims.NewAuditPage(nil, 2).Events)
}

func TestSchedulerStateSupersedes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		st      ims.SchedulerState
		applied ims.SchedulerState
		want    bool
	}{
		{"first stored state over nothing", ims.SchedulerState{Running: true, Version: 1}, ims.SchedulerState{}, true},
		{"newer version", ims.SchedulerState{Running: false, Version: 3}, ims.SchedulerState{Running: true, Version: 2}, true},
		{"stale read of an older version", ims.SchedulerState{Running: true, Version: 2}, ims.SchedulerState{Running: false, Version: 3}, false},
		{"same version again", ims.SchedulerState{Running: true, Version: 3}, ims.SchedulerState{Running: true, Version: 3}, false},
		{"nothing stored never replaces a state", ims.SchedulerState{}, ims.SchedulerState{Running: false, Version: 1}, false},
		{"a later clock does not make an older version newer",
			ims.SchedulerState{Running: true, Version: 1, UpdatedAt: at.Add(time.Hour)},
			ims.SchedulerState{Running: false, Version: 2, UpdatedAt: at}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.st.Supersedes(tc.applied))
		})
	}
}

func TestApplyProviderChange(t *testing.T) {
	t.Parallel()
	cur := ims.ProviderState{Version: 7}
	ev := []ims.AuditEvent{{Type: ims.EventCircuitOpened}}
	tests := []struct {
		name        string
		change      func(ims.ProviderState) (ims.ProviderState, []ims.AuditEvent)
		wantChanged bool
		wantVersion int64
		wantEvents  int
	}{
		{"the same state writes nothing, whatever its events",
			func(st ims.ProviderState) (ims.ProviderState, []ims.AuditEvent) { return st, ev }, false, 7, 0},
		{"a change that only touches the version is no change",
			func(st ims.ProviderState) (ims.ProviderState, []ims.AuditEvent) { st.Version = 99; return st, nil }, false, 7, 0},
		{"a real change takes the next version and keeps its events",
			func(st ims.ProviderState) (ims.ProviderState, []ims.AuditEvent) {
				st.Circuit.State = ims.CircuitOpen
				return st, ev
			}, true, 8, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next, events, changed := ims.ApplyProviderChange(cur, tt.change)
			require.Equal(t, tt.wantChanged, changed)
			require.Equal(t, tt.wantVersion, next.Version)
			require.Len(t, events, tt.wantEvents)
		})
	}
}
