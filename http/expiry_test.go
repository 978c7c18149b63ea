package http

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestCreateWithPriorityAndExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.cfg.MessageTTL = time.Hour })

	m := decode[ims.Message](t, b.do(t, request{method: "POST", path: "/api/messages",
		body: `{"phone_number": "+905551234567", "content": "otp", "priority": "high", "ttl_seconds": 60}`}), http.StatusCreated)
	require.Equal(t, ims.PriorityHigh, m.Priority)
	require.NotNil(t, m.ExpiresAt)
	require.Equal(t, b.now.Add(time.Minute), *m.ExpiresAt, "a TTL counts from now when send_at is absent")

	at := b.now.Add(2 * time.Hour).Format(time.RFC3339)
	m = decode[ims.Message](t, b.do(t, request{method: "POST", path: "/api/messages",
		body: `{"phone_number": "+905551234567", "content": "x", "expires_at": "` + at + `"}`}), http.StatusCreated)
	require.Equal(t, ims.PriorityNormal, m.Priority, "normal by default")
	require.Equal(t, b.now.Add(2*time.Hour), *m.ExpiresAt)

	m = b.createMessage(t, "+905551234567", "defaults")
	require.Equal(t, b.now.Add(time.Hour), *m.ExpiresAt, "MESSAGE_TTL applies to a message that gives none")

	got := decode[messageDetail](t, b.do(t, request{method: "GET", path: "/api/messages/" + m.ID}), http.StatusOK)
	require.Equal(t, ims.PriorityNormal, got.Message.Priority)
	require.NotNil(t, got.Message.ExpiresAt)

	batch := decode[batchResponse](t, b.do(t, request{method: "POST", path: "/api/messages/batch",
		body: `{"messages": [{"phone_number": "+905551234567", "content": "a", "priority": "low"},
			{"phone_number": "+905551234567", "content": "b", "ttl_seconds": 5}]}`}), http.StatusCreated)
	require.Equal(t, ims.PriorityLow, batch.Messages[0].Priority)
	require.Equal(t, b.now.Add(5*time.Second), *batch.Messages[1].ExpiresAt)
}

func TestCreateRejectsBadPriorityAndExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	past := b.now.Add(-time.Minute).Format(time.RFC3339)
	soon := b.now.Add(time.Minute).Format(time.RFC3339)
	later := b.now.Add(time.Hour).Format(time.RFC3339)
	tests := []struct{ name, extra, field string }{
		{"unknown priority", `"priority": "urgent"`, "priority"},
		{"upper-case priority", `"priority": "HIGH"`, "priority"},
		{"both ttl and expires_at", `"ttl_seconds": 5, "expires_at": "` + later + `"`, "ttl_seconds"},
		{"ttl zero", `"ttl_seconds": 0`, "ttl_seconds"},
		{"ttl negative", `"ttl_seconds": -5`, "ttl_seconds"},
		{"expires_at in the past", `"expires_at": "` + past + `"`, "expires_at"},
		{"expires_at not a time", `"expires_at": "tomorrow"`, "expires_at"},
		{"send_at not before expires_at", `"send_at": "` + later + `", "expires_at": "` + soon + `"`, "expires_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := decode[apiError](t, b.do(t, request{method: "POST", path: "/api/messages",
				body: `{"phone_number": "+905551234567", "content": "x", ` + tt.extra + `}`}), http.StatusUnprocessableEntity)
			require.Contains(t, e.Details, tt.field, e)
		})
	}
	e := decode[apiError](t, b.do(t, request{method: "POST", path: "/api/messages/batch",
		body: `{"messages": [{"phone_number": "+905551234567", "content": "a", "priority": "urgent"}]}`}), http.StatusUnprocessableEntity)
	require.Contains(t, e.Details, "messages[0].priority")
	require.Zero(t, b.countMessages(t), "nothing is stored")
}

func TestListFiltersByPriority(t *testing.T) {
	t.Parallel()
	b := setup(t)
	create := func(p string) ims.Message {
		return decode[ims.Message](t, b.do(t, request{method: "POST", path: "/api/messages",
			body: `{"phone_number": "+905551234567", "content": "x", "priority": "` + p + `"}`}), http.StatusCreated)
	}
	high, _ := create("high"), create("low")
	page := decode[ims.MessagePage](t, b.do(t, request{method: "GET", path: "/api/messages?priority=high"}), http.StatusOK)
	require.Len(t, page.Messages, 1)
	require.Equal(t, high.ID, page.Messages[0].ID)
	page = decode[ims.MessagePage](t, b.do(t, request{method: "GET", path: "/api/messages?priority=high&status=sent"}), http.StatusOK)
	require.Empty(t, page.Messages)
	e := decode[apiError](t, b.do(t, request{method: "GET", path: "/api/messages?priority=urgent"}), http.StatusBadRequest)
	require.Contains(t, e.Details, "priority")
}

func TestReplayExpiredNeedsANewExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := decode[ims.Message](t, b.do(t, request{method: "POST", path: "/api/messages",
		body: `{"phone_number": "+905551234567", "content": "otp", "ttl_seconds": 1}`}), http.StatusCreated)
	later := b.now.Add(time.Minute)
	b.store.Now = func() time.Time { return later }
	n, err := b.store.ExpireDue(ctx, ims.ExpiryStopped, "expiry", 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	page := decode[ims.MessagePage](t, b.do(t, request{method: "GET", path: "/api/messages?status=expired"}), http.StatusOK)
	require.Len(t, page.Messages, 1)
	require.Equal(t, ims.StatusExpired, page.Messages[0].Status)

	path := "/api/messages/" + m.ID + "/retry"
	e := decode[apiError](t, b.do(t, request{method: "POST", path: path}), http.StatusConflict)
	require.Contains(t, e.Error, "new expiry")
	decode[apiError](t, b.do(t, request{method: "POST", path: path, body: `{"ttl_seconds": 0}`}), http.StatusUnprocessableEntity)
	decode[apiError](t, b.do(t, request{method: "POST", path: path, body: `{"ttl": 5}`}), http.StatusBadRequest)

	got := decode[ims.Message](t, b.do(t, request{method: "POST", path: path, body: `{"ttl_seconds": 600}`}), http.StatusOK)
	require.Equal(t, ims.StatusPending, got.Status)
	require.Equal(t, b.now.Add(10*time.Minute), *got.ExpiresAt, "the TTL counts from the replay")

	n, err = b.store.ReplayDeadLetters(ctx, "test", 10)
	require.NoError(t, err)
	require.Zero(t, n)
}
