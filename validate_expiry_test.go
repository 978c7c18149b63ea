package ims_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// TestCreateValidatesPriorityAndExpiry drives the one validation path of
// single and batch creates with an injected clock.
func TestCreateValidatesPriorityAndExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rules := ims.CreateRules{Now: now, DefaultTTL: time.Hour}
	base := func() ims.MessageInput {
		return ims.MessageInput{PhoneNumber: ptr("+905551234567"), Content: ptr("hi")}
	}

	nm, err := base().Validate(rules, "")
	require.NoError(t, err)
	require.Equal(t, ims.PriorityNormal, nm.Priority)
	require.Equal(t, now.Add(time.Hour), *nm.ExpiresAt, "MESSAGE_TTL when the request gives no expiry")
	require.False(t, nm.ExpiryFixed)

	in := base()
	in.Priority, in.TTLSeconds, in.SendAt = ptr("high"), ptr(int64(30)), ptr(now.Add(time.Minute).Format(time.RFC3339))
	nm, err = in.Validate(rules, "")
	require.NoError(t, err)
	require.Equal(t, ims.PriorityHigh, nm.Priority)
	require.Equal(t, now.Add(time.Minute+30*time.Second), *nm.ExpiresAt, "a TTL counts from send_at")

	in = base()
	in.ExpiresAt = ptr(now.Add(time.Hour).Format(time.RFC3339))
	nm, err = in.Validate(ims.CreateRules{Now: now}, "")
	require.NoError(t, err)
	require.True(t, nm.ExpiryFixed)

	nm, err = base().Validate(ims.CreateRules{Now: now}, "")
	require.NoError(t, err)
	require.Nil(t, nm.ExpiresAt, "no MESSAGE_TTL: never expires")

	bad := []struct {
		name  string
		edit  func(*ims.MessageInput)
		field string
	}{
		{"unknown priority", func(in *ims.MessageInput) { in.Priority = ptr("urgent") }, "priority"},
		{"ttl and expires_at", func(in *ims.MessageInput) {
			in.TTLSeconds, in.ExpiresAt = ptr(int64(5)), ptr(now.Add(time.Hour).Format(time.RFC3339))
		}, "ttl_seconds"},
		{"expires_at now", func(in *ims.MessageInput) { in.ExpiresAt = ptr(now.Format(time.RFC3339)) }, "expires_at"},
		{"send_at not before expires_at", func(in *ims.MessageInput) {
			in.SendAt, in.ExpiresAt = ptr(now.Add(2*time.Hour).Format(time.RFC3339)), ptr(now.Add(time.Hour).Format(time.RFC3339))
		}, "expires_at"},
	}
	for _, tt := range bad {
		in := base()
		tt.edit(&in)
		_, err := in.Validate(rules, "")
		require.Equal(t, ims.EINVALID, ims.ErrorCode(err), tt.name)
		require.Contains(t, err.(*ims.Error).Details, tt.field, tt.name)
	}

	// A bad send_at is reported alone, not as an expiry problem too.
	in = base()
	in.SendAt, in.TTLSeconds = ptr("soon"), ptr(int64(5))
	_, err = in.Validate(rules, "")
	require.Equal(t, map[string]string{"send_at": "must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z"},
		err.(*ims.Error).Details)

	items := []ims.MessageInput{base(), base()}
	items[1].Priority = ptr("LOW")
	_, err = ims.ValidateBatch(items, rules, "")
	require.Contains(t, err.(*ims.Error).Details, "messages[1].priority")
}

func TestSameRequestComparesPriorityAndExpiry(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later := at.Add(time.Second)
	a := ims.NewMessage{PhoneNumber: "+905551234567", Content: "x", Priority: ims.PriorityHigh, ExpiresAt: &at}
	require.True(t, ims.SameRequest(a, a))

	b := a
	b.Priority = ims.PriorityLow
	require.False(t, ims.SameRequest(a, b), "another priority")
	b = a
	b.Priority = ""
	a2 := a
	a2.Priority = ims.PriorityNormal
	require.True(t, ims.SameRequest(a2, b), "absent is normal")

	b = a
	b.ExpiresAt = &later
	require.True(t, ims.SameRequest(b, a), "a TTL resolves later on a retry: it matches")
	b.ExpiryFixed = true
	require.False(t, ims.SameRequest(b, a), "an absolute expires_at must name the same instant")
	b.ExpiresAt = &at
	require.True(t, ims.SameRequest(b, a))
	b.ExpiresAt = nil
	require.False(t, ims.SameRequest(b, a), "never expiring is another request")
}

func TestPriorityOfRankRoundTrips(t *testing.T) {
	t.Parallel()
	for _, p := range ims.Priorities {
		require.Equal(t, p, ims.PriorityOfRank(p.Rank()))
	}
	require.Equal(t, ims.PriorityNormal, ims.PriorityOfRank(7))
}

func TestReplayInputValidate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp, err := ims.ReplayInput{}.Validate(now)
	require.NoError(t, err)
	require.Nil(t, exp, "no body: a plain replay")
	exp, err = ims.ReplayInput{TTLSeconds: ptr(int64(60))}.Validate(now)
	require.NoError(t, err)
	require.Equal(t, now.Add(time.Minute), *exp, "a TTL counts from the replay")
	_, err = ims.ReplayInput{ExpiresAt: ptr(now.Add(-time.Second).Format(time.RFC3339))}.Validate(now)
	require.Equal(t, ims.EINVALID, ims.ErrorCode(err))
	require.Equal(t, ims.ECONFLICT, ims.ErrorCode(ims.ReplayNeedsExpiry()))
}

func TestExpiredIsFinal(t *testing.T) {
	t.Parallel()
	require.True(t, ims.StatusExpired.Final())
	require.True(t, ims.StatusExpired.Valid())
	require.True(t, ims.Purgeable(ims.StatusExpired))
	tr, err := ims.OutcomeTransition(ims.StatusExpired)
	require.NoError(t, err)
	require.Equal(t, ims.TransitionExpire, tr)
}
