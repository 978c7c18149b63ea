package ims_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestResolveExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later := now.Add(2 * time.Hour)
	past := now.Add(-2 * time.Hour)
	tests := []struct {
		name       string
		ttl        *int64
		expiresAt  *string
		sendAt     *time.Time
		defaultTTL time.Duration
		want       *time.Time
		badField   string
	}{
		{"nothing, no default: never expires", nil, nil, nil, 0, nil, ""},
		{"empty expires_at is absent", nil, ptr(""), nil, 0, nil, ""},
		{"default TTL from now", nil, nil, nil, time.Hour, ptr(now.Add(time.Hour)), ""},
		{"default TTL from send_at", nil, nil, &later, time.Hour, ptr(later.Add(time.Hour)), ""},
		{"default TTL from now when send_at is past", nil, nil, &past, time.Hour, ptr(now.Add(time.Hour)), ""},
		{"ttl_seconds from now", ptr(int64(60)), nil, nil, time.Hour, ptr(now.Add(time.Minute)), ""},
		{"ttl_seconds from send_at", ptr(int64(60)), nil, &later, 0, ptr(later.Add(time.Minute)), ""},
		{"ttl_seconds zero is in the past", ptr(int64(0)), nil, nil, 0, nil, "ttl_seconds"},
		{"ttl_seconds negative", ptr(int64(-5)), nil, nil, 0, nil, "ttl_seconds"},
		{"ttl_seconds beyond ten years", ptr(int64(ims.MaxTTL/time.Second + 1)), nil, nil, 0, nil, "ttl_seconds"},
		{"ttl_seconds of exactly ten years", ptr(int64(ims.MaxTTL / time.Second)), nil, nil, 0, ptr(now.Add(ims.MaxTTL)), ""},
		{"both given", ptr(int64(60)), ptr("2026-03-01T13:00:00Z"), nil, 0, nil, "ttl_seconds"},
		{"expires_at in UTC", nil, ptr("2026-03-01T16:00:00+03:00"), nil, 0, ptr(now.Add(time.Hour)), ""},
		{"expires_at overrides the default", nil, ptr("2026-03-01T12:00:01Z"), nil, time.Hour, ptr(now.Add(time.Second)), ""},
		{"expires_at truncated to microseconds", nil, ptr("2026-03-01T13:00:00.1234567Z"), nil, 0,
			ptr(now.Add(time.Hour + 123456*time.Microsecond)), ""},
		{"expires_at not RFC 3339", nil, ptr("tomorrow"), nil, 0, nil, "expires_at"},
		{"expires_at in the past", nil, ptr("2026-03-01T11:00:00Z"), nil, 0, nil, "expires_at"},
		{"expires_at exactly now is past", nil, ptr("2026-03-01T12:00:00Z"), nil, 0, nil, "expires_at"},
		{"expires_at before send_at", nil, ptr("2026-03-01T13:00:00Z"), &later, 0, nil, "expires_at"},
		{"expires_at equal to send_at", nil, ptr("2026-03-01T14:00:00Z"), &later, 0, nil, "expires_at"},
		{"expires_at after send_at", nil, ptr("2026-03-01T14:00:01Z"), &later, 0, ptr(later.Add(time.Second)), ""},
		{"expires_at after a past send_at", nil, ptr("2026-03-01T13:00:00Z"), &past, 0, ptr(now.Add(time.Hour)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problems := ims.ResolveExpiry(tt.ttl, tt.expiresAt, tt.sendAt, tt.defaultTTL, now)
			if tt.badField != "" {
				require.Nil(t, got)
				require.Len(t, problems, 1)
				require.Contains(t, problems, tt.badField)
				return
			}
			require.Empty(t, problems)
			if tt.want == nil {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Equal(t, *tt.want, *got)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestExpireInsteadOfRetry(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		expiresAt *time.Time
		next      time.Time
		want      bool
	}{
		{"no expiry", nil, exp.Add(1000 * time.Hour), false},
		{"before the expiry", &exp, exp.Add(-time.Nanosecond), false},
		{"at the expiry: too late", &exp, exp, true},
		{"after the expiry", &exp, exp.Add(time.Second), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ims.ExpireInsteadOfRetry(tt.expiresAt, tt.next))
			require.Equal(t, tt.want, ims.Expired(tt.expiresAt, tt.next))
		})
	}
}

func TestExpiryReasonFor(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	open := ims.Circuit{State: ims.CircuitOpen}
	paused := ims.RateState{PausedUntil: now.Add(time.Second)}
	tests := []struct {
		name    string
		running bool
		c       ims.Circuit
		r       ims.RateState
		want    ims.ExpiryReason
	}{
		{"stopped wins over everything", false, open, paused, ims.ExpiryStopped},
		{"circuit open", true, open, paused, ims.ExpiryCircuitOpen},
		{"half open counts as open", true, ims.Circuit{State: ims.CircuitHalfOpen}, ims.RateState{}, ims.ExpiryCircuitOpen},
		{"throttled", true, ims.Circuit{}, paused, ims.ExpiryThrottled},
		{"a pause that ended is no reason", true, ims.Circuit{}, ims.RateState{PausedUntil: now}, ims.ExpiryBacklog},
		{"nothing held it: backlog", true, ims.Circuit{}, ims.RateState{}, ims.ExpiryBacklog},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ims.ExpiryReasonFor(tt.running, tt.c, tt.r, now))
		})
	}
	d := ims.ExpiredDecision(ims.ExpiryCircuitOpen)
	require.Equal(t, ims.StatusExpired, d.Status)
	require.Equal(t, "expired: circuit_open", d.Reason)
}
