package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestCreateMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.do(t, request{method: "POST", path: "/api/messages",
		body: `{"phone_number":"+905551234567","content":"Hello from IMS!","send_at":"2026-03-01T10:00:00+03:00"}`})
	m := decode[ims.Message](t, w, http.StatusCreated)
	require.True(t, validMessageID(m.ID))
	require.Equal(t, "/api/messages/"+m.ID, w.Header().Get("Location"))
	require.Equal(t, "+905551234567", m.PhoneNumber)
	require.Equal(t, "Hello from IMS!", m.Content)
	require.Equal(t, ims.StatusPending, m.Status)
	require.NotNil(t, m.SendAt)
	require.True(t, m.SendAt.Equal(time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)))

	stored, err := b.store.GetMessage(context.Background(), m.ID)
	require.NoError(t, err)
	require.Equal(t, m.Content, stored.Content)
}

func TestCreateMessageRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.cfg.MaxContentLength = 10 })
	tests := []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		field   string // expected key in details, if any
	}{
		{"empty body", "", nil, http.StatusBadRequest, ""},
		{"malformed JSON", `{"phone_number":`, nil, http.StatusBadRequest, ""},
		{"syntax error", `{"phone_number" "+905551234567"}`, nil, http.StatusBadRequest, ""},
		{"not an object", `["+905551234567"]`, nil, http.StatusBadRequest, ""},
		{"unknown field", `{"phone_number":"+905551234567","content":"hi","priority":1}`, nil, http.StatusBadRequest, "priority"},
		{"wrong type", `{"phone_number":905551234567,"content":"hi"}`, nil, http.StatusBadRequest, "phone_number"},
		{"trailing data", `{"phone_number":"+905551234567","content":"hi"} {}`, nil, http.StatusBadRequest, ""},
		{"trailing garbage", `{"phone_number":"+905551234567","content":"hi"}xyz`, nil, http.StatusBadRequest, ""},
		{"missing phone", `{"content":"hi"}`, nil, http.StatusUnprocessableEntity, "phone_number"},
		{"phone not E.164", `{"phone_number":"05551234567","content":"hi"}`, nil, http.StatusUnprocessableEntity, "phone_number"},
		{"missing content", `{"phone_number":"+905551234567"}`, nil, http.StatusUnprocessableEntity, "content"},
		{"blank content", `{"phone_number":"+905551234567","content":"   "}`, nil, http.StatusUnprocessableEntity, "content"},
		{"content too long", `{"phone_number":"+905551234567","content":"ğğğğğğğğğğğ"}`, nil, http.StatusUnprocessableEntity, "content"},
		{"bad send_at", `{"phone_number":"+905551234567","content":"hi","send_at":"tomorrow"}`, nil, http.StatusUnprocessableEntity, "send_at"},
		{"null body", `null`, nil, http.StatusUnprocessableEntity, "phone_number"},
		{"idempotency key too long", `{"phone_number":"+905551234567","content":"hi"}`,
			map[string]string{IdempotencyKeyHeader: strings.Repeat("k", ims.MaxIdempotencyKeyLength+1)},
			http.StatusUnprocessableEntity, "Idempotency-Key"},
		// Hostile input (issue 7, defects 3 and 4): each once made a store fail or
		// stored what the client never sent.
		{"send_at past year 9999 in UTC", `{"phone_number":"+905551234567","content":"hi","send_at":"9999-12-31T23:59:59-23:59"}`, nil,
			http.StatusUnprocessableEntity, "send_at"},
		{"send_at beyond the horizon", `{"phone_number":"+905551234567","content":"hi","send_at":"2027-01-03T00:00:00Z"}`, nil,
			http.StatusUnprocessableEntity, "send_at"},
		{"send_at days in the past", `{"phone_number":"+905551234567","content":"hi","send_at":"2025-12-30T00:00:00Z"}`, nil,
			http.StatusUnprocessableEntity, "send_at"},
		{"NUL in content", `{"phone_number":"+905551234567","content":"a\u0000b"}`, nil, http.StatusUnprocessableEntity, "content"},
		{"escape character in content", `{"phone_number":"+905551234567","content":"a\u001bb"}`, nil, http.StatusUnprocessableEntity, "content"},
		{"only a zero-width space", `{"phone_number":"+905551234567","content":"\u200b"}`, nil, http.StatusUnprocessableEntity, "content"},
		{"lone high surrogate", `{"phone_number":"+905551234567","content":"a\ud800b"}`, nil, http.StatusBadRequest, ""},
		{"lone low surrogate", `{"phone_number":"+905551234567","content":"\udc00"}`, nil, http.StatusBadRequest, ""},
		{"high surrogate before a letter", `{"phone_number":"+905551234567","content":"\ud800\u0041"}`, nil, http.StatusBadRequest, ""},
		{"high surrogate at the end", `{"phone_number":"+905551234567","content":"\ud83d"}`, nil, http.StatusBadRequest, ""},
		{"invalid UTF-8", "{\"phone_number\":\"+905551234567\",\"content\":\"a\xffb\"}", nil, http.StatusBadRequest, ""},
		{"non-UTF-8 idempotency key", `{"phone_number":"+905551234567","content":"hi"}`,
			map[string]string{IdempotencyKeyHeader: "k\xff"}, http.StatusUnprocessableEntity, "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := b.do(t, request{method: "POST", path: "/api/messages", body: tt.body, headers: tt.headers})
			e := decode[apiError](t, w, tt.status)
			require.NotEmpty(t, e.Error)
			if tt.field != "" {
				require.Contains(t, e.Details, tt.field, "details: %v", e.Details)
			}
		})
	}
	require.Zero(t, b.countMessages(t), "a rejected request must store nothing")
}

func TestCreateMessageUnknownQueryParameter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/api/messages?dry_run=1", "/api/messages/batch?dry_run=1"} {
		body := `{"phone_number":"+905551234567","content":"hi"}`
		if strings.Contains(path, "batch") {
			body = `{"messages":[` + body + `]}`
		}
		e := decode[apiError](t, b.do(t, request{method: "POST", path: path, body: body}), http.StatusBadRequest)
		require.Contains(t, e.Details, "dry_run")
	}
	require.Zero(t, b.countMessages(t))
}

func TestCreateMessageKeepsEscapedText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct{ name, json, want string }{
		{"surrogate pair", `"\ud83d\ude00 ok"`, "😀 ok"},
		{"escaped backslash before u", `"a\\ud800"`, `a\ud800`},
		{"newline and tab", `"a\n\tb"`, "a\n\tb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := b.do(t, request{method: "POST", path: "/api/messages", body: `{"phone_number":"+905551234567","content":` + tt.json + `}`})
			require.Equal(t, tt.want, decode[ims.Message](t, w, http.StatusCreated).Content)
		})
	}
}

func TestCreateMessageTenCharactersIsNotTooLong(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.cfg.MaxContentLength = 10 })
	// Ten runes, twenty bytes: the limit counts characters.
	b.createMessage(t, "+905551234567", "ğğğğğğğğğğ")
}

func TestCreateMessageIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	post := func(body string) *postResult {
		w := b.do(t, request{method: "POST", path: "/api/messages", body: body,
			headers: map[string]string{IdempotencyKeyHeader: "order-42"}})
		return &postResult{code: w.Code, replayed: w.Header().Get(IdempotentReplayedHeader), body: w.Body.String()}
	}
	body := `{"phone_number":"+905551234567","content":"hi"}`

	first := post(body)
	require.Equal(t, http.StatusCreated, first.code, first.body)
	require.Empty(t, first.replayed)

	again := post(body)
	require.Equal(t, http.StatusOK, again.code, again.body)
	require.Equal(t, "true", again.replayed)
	require.JSONEq(t, first.body, again.body, "a replay returns the same message")

	other := post(`{"phone_number":"+905551234567","content":"something else"}`)
	require.Equal(t, http.StatusConflict, other.code, other.body)

	// send_at is part of the request: the same key asking for another time
	// is a conflict, not a replay of the message due now.
	later := post(`{"phone_number":"+905551234567","content":"hi","send_at":"2026-01-03T00:00:00Z"}`)
	require.Equal(t, http.StatusConflict, later.code, later.body)

	require.EqualValues(t, 1, b.countMessages(t))
}

func TestIdempotencyKeySpaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := map[string]string{IdempotencyKeyHeader: "k"}
	batch := decode[batchResponse](t, b.do(t, request{method: "POST", path: "/api/messages/batch", headers: key,
		body: `{"messages":[{"phone_number":"+905551234567","content":"batch item"}]}`}), http.StatusCreated)
	require.Equal(t, "k#0", batch.Messages[0].IdempotencyKey)

	// A single create whose key happens to be a batch item's derived key is
	// another request: it creates its own message.
	single := b.do(t, request{method: "POST", path: "/api/messages", body: `{"phone_number":"+905551234567","content":"single"}`,
		headers: map[string]string{IdempotencyKeyHeader: "k#0"}})
	m := decode[ims.Message](t, single, http.StatusCreated)
	require.Equal(t, "single", m.Content)
	require.NotEqual(t, batch.Messages[0].ID, m.ID)
	require.EqualValues(t, 2, b.countMessages(t))
}

type postResult struct {
	code     int
	replayed string
	body     string
}

func TestCreateBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.do(t, request{method: "POST", path: "/api/messages/batch", body: `{"messages":[
		{"phone_number":"+905551234567","content":"one"},
		{"phone_number":"+905551234568","content":"two","send_at":"2026-01-03T00:00:00Z"}]}`})
	res := decode[batchResponse](t, w, http.StatusCreated)
	require.Equal(t, 2, res.Created)
	require.Len(t, res.Messages, 2)
	require.Equal(t, "one", res.Messages[0].Content)
	require.Equal(t, "two", res.Messages[1].Content)
	require.EqualValues(t, 2, b.countMessages(t))
}

func TestCreateBatchIsAllOrNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.cfg.MaxBatchSize = 3 })
	tests := []struct {
		name    string
		body    string
		status  int
		details []string
	}{
		{"one bad item", `{"messages":[{"phone_number":"+905551234567","content":"ok"},{"phone_number":"nope","content":"x"}]}`,
			http.StatusUnprocessableEntity, []string{"messages[1].phone_number"}},
		{"several bad items", `{"messages":[{"phone_number":"+905551234567"},{"content":"x"},{"phone_number":"+905551234567","content":"ok"}]}`,
			http.StatusUnprocessableEntity, []string{"messages[0].content", "messages[1].phone_number"}},
		{"empty", `{"messages":[]}`, http.StatusUnprocessableEntity, []string{"messages"}},
		{"missing", `{}`, http.StatusUnprocessableEntity, []string{"messages"}},
		{"too many", `{"messages":[` + strings.TrimSuffix(strings.Repeat(`{"phone_number":"+905551234567","content":"x"},`, 4), ",") + `]}`,
			http.StatusUnprocessableEntity, []string{"messages"}},
		{"unknown item field", `{"messages":[{"phone_number":"+905551234567","content":"ok","x":1}]}`,
			http.StatusBadRequest, nil},
		{"wrong type", `{"messages":{"phone_number":"+905551234567"}}`, http.StatusBadRequest, []string{"messages"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := b.do(t, request{method: "POST", path: "/api/messages/batch", body: tt.body})
			e := decode[apiError](t, w, tt.status)
			if tt.details != nil {
				require.Len(t, e.Details, len(tt.details), "details: %v", e.Details)
			}
			for _, k := range tt.details {
				require.Contains(t, e.Details, k)
			}
		})
	}
	require.Zero(t, b.countMessages(t), "a rejected batch must store nothing")
}

func TestListMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var created []ims.Message
	for i := range 5 {
		created = append(created, b.createMessage(t, "+905551234567", fmt.Sprintf("m%d", i)))
	}
	_, err := b.store.CancelMessage(context.Background(), created[1].ID, "test")
	require.NoError(t, err)

	t.Run("pages newest first", func(t *testing.T) {
		t.Parallel()
		var got []string
		cursor := ""
		for range 10 {
			w := b.do(t, request{method: "GET", path: "/api/messages?limit=2&cursor=" + cursor})
			page := decode[ims.MessagePage](t, w, http.StatusOK)
			for _, m := range page.Messages {
				got = append(got, m.Content)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		require.Equal(t, []string{"m4", "m3", "m2", "m1", "m0"}, got)
	})
	t.Run("filter by status", func(t *testing.T) {
		t.Parallel()
		page := decode[ims.MessagePage](t, b.do(t, request{method: "GET", path: "/api/messages?status=canceled"}), http.StatusOK)
		require.Len(t, page.Messages, 1)
		require.Equal(t, created[1].ID, page.Messages[0].ID)
	})
	t.Run("empty list is an empty array", func(t *testing.T) {
		t.Parallel()
		w := b.do(t, request{method: "GET", path: "/api/messages/sent"})
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, `{"messages":[]}`, w.Body.String())
	})
}

func TestListRejectsBadQuery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name, query, param string
	}{
		{"limit zero", "limit=0", "limit"},
		{"limit too big", "limit=1001", "limit"},
		{"limit not a number", "limit=ten", "limit"},
		{"unknown status", "status=lost", "status"},
		{"bad cursor", "cursor=not-a-cursor", "cursor"},
		{"NUL in status", "status=%00", "status"},
		{"invalid UTF-8 in cursor", "cursor=%ff", "cursor"},
		{"control character in limit", "limit=%1b", "limit"},
		{"unknown parameter", "sort=asc", "sort"},
		{"repeated parameter", "limit=1&limit=2", "limit"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/messages", "/api/messages/sent", "/api/messages/dead-letter"} {
			if tt.param == "status" && path != "/api/messages" {
				continue // the route fixes the status
			}
			t.Run(tt.name+" "+path, func(t *testing.T) {
				t.Parallel()
				e := decode[apiError](t, b.do(t, request{method: "GET", path: path + "?" + tt.query}), http.StatusBadRequest)
				require.Contains(t, e.Details, tt.param)
			})
		}
	}
}

func TestSentAndDeadLetterLists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sent := b.createMessage(t, "+905551234567", "sent one")
	b.finish(t, sent, ims.StatusSent, ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-1"})
	dead := b.createMessage(t, "+905551234567", "dead one")
	b.finish(t, dead, ims.StatusDead, ims.DeliveryResult{StatusCode: 400})
	b.createMessage(t, "+905551234567", "pending one")

	page := decode[ims.MessagePage](t, b.do(t, request{method: "GET", path: "/api/messages/sent"}), http.StatusOK)
	require.Len(t, page.Messages, 1)
	require.Equal(t, sent.ID, page.Messages[0].ID)
	require.Equal(t, "prov-1", page.Messages[0].ProviderMessageID)

	// The route fixes the status: ?status= is not one of its parameters.
	e := decode[apiError](t, b.do(t, request{method: "GET", path: "/api/messages/dead-letter?status=pending"}), http.StatusBadRequest)
	require.Contains(t, e.Details, "status")
	page = decode[ims.MessagePage](t, b.do(t, request{method: "GET", path: "/api/messages/dead-letter"}), http.StatusOK)
	require.Len(t, page.Messages, 1)
	require.Equal(t, dead.ID, page.Messages[0].ID)
	require.Equal(t, "webhook answered HTTP 400", page.Messages[0].LastError)
}

func TestGetMessage(t *testing.T) {
	t.Parallel()
	cache := &fakeCache{entries: map[string]ims.SentCacheEntry{}}
	b := setup(t, func(o *setupOptions) { o.deps.Cache = cache })
	m := b.createMessage(t, "+905551234567", "hi")
	b.finish(t, m, ims.StatusSent, ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-9", Latency: time.Millisecond})
	cache.entries[m.ID] = ims.SentCacheEntry{MessageID: m.ID, ProviderMessageID: "prov-9", SentAt: b.now}

	d := decode[messageDetail](t, b.do(t, request{method: "GET", path: "/api/messages/" + m.ID}), http.StatusOK)
	require.Equal(t, m.ID, d.Message.ID)
	require.Equal(t, ims.StatusSent, d.Message.Status)
	require.Len(t, d.Attempts, 1)
	require.Equal(t, 202, d.Attempts[0].StatusCode)
	require.Equal(t, ims.StatusSent, d.Attempts[0].Outcome)
	require.True(t, d.Cache.Enabled)
	require.True(t, d.Cache.Cached)
	require.Equal(t, "prov-9", d.Cache.ProviderMessageID)
	require.True(t, d.Cache.SentAt.Equal(b.now))
}

func TestGetMessageCacheStates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cache ims.SentCache
		want  cacheInfo
	}{
		{"no cache configured", nil, cacheInfo{}},
		{"not cached", &fakeCache{}, cacheInfo{Enabled: true}},
		{"cache down does not fail the request", &fakeCache{err: errors.New("dial tcp 10.0.0.1:6379: refused")},
			cacheInfo{Enabled: true, Error: "cache unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *setupOptions) { o.deps.Cache = tt.cache })
			m := b.createMessage(t, "+905551234567", "hi")
			w := b.do(t, request{method: "GET", path: "/api/messages/" + m.ID})
			d := decode[messageDetail](t, w, http.StatusOK)
			require.Equal(t, tt.want, d.Cache)
			require.Empty(t, d.Attempts)
			require.NotContains(t, w.Body.String(), "10.0.0.1")
		})
	}
}

func TestMessageNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, id := range []string{"0190a0b0-0000-7000-8000-000000000000", "not-a-uuid"} {
		for _, req := range []request{
			{method: "GET", path: "/api/messages/" + id},
			{method: "DELETE", path: "/api/messages/" + id},
			{method: "POST", path: "/api/messages/" + id + "/retry"},
		} {
			t.Run(req.method+" "+req.path, func(t *testing.T) {
				t.Parallel()
				decode[apiError](t, b.do(t, req), http.StatusNotFound)
			})
		}
	}
}

func TestCancelAndRetryStates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pending := b.createMessage(t, "+905551234567", "pending")

	// Retry of a message that is not dead is a conflict.
	decode[apiError](t, b.do(t, request{method: "POST", path: "/api/messages/" + pending.ID + "/retry"}), http.StatusConflict)

	canceled := decode[ims.Message](t, b.do(t, request{method: "DELETE", path: "/api/messages/" + pending.ID}), http.StatusOK)
	require.Equal(t, ims.StatusCanceled, canceled.Status)
	// Canceling twice: no longer pending.
	decode[apiError](t, b.do(t, request{method: "DELETE", path: "/api/messages/" + pending.ID}), http.StatusConflict)

	dead := b.createMessage(t, "+905551234567", "dead")
	b.finish(t, dead, ims.StatusDead, ims.DeliveryResult{StatusCode: 400})
	decode[apiError](t, b.do(t, request{method: "DELETE", path: "/api/messages/" + dead.ID}), http.StatusConflict)

	replayed := decode[ims.Message](t, b.do(t, request{method: "POST", path: "/api/messages/" + dead.ID + "/retry"}), http.StatusOK)
	require.Equal(t, ims.StatusPending, replayed.Status)
	require.Equal(t, 0, replayed.Attempts)
	decode[apiError](t, b.do(t, request{method: "POST", path: "/api/messages/" + dead.ID + "/retry"}), http.StatusConflict)
}

func TestReplayDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 3 {
		m := b.createMessage(t, "+905551234567", fmt.Sprintf("dead %d", i))
		b.finish(t, m, ims.StatusDead, ims.DeliveryResult{StatusCode: 400})
	}

	res := decode[replayResponse](t, b.do(t, request{method: "POST", path: "/api/messages/dead-letter/retry?limit=2"}), http.StatusOK)
	require.Equal(t, 2, res.Replayed)
	res = decode[replayResponse](t, b.do(t, request{method: "POST", path: "/api/messages/dead-letter/retry"}), http.StatusOK)
	require.Equal(t, 1, res.Replayed)
	res = decode[replayResponse](t, b.do(t, request{method: "POST", path: "/api/messages/dead-letter/retry"}), http.StatusOK)
	require.Equal(t, 0, res.Replayed)

	counts, err := b.store.CountByStatus(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 3, counts[ims.StatusPending])

	decode[apiError](t, b.do(t, request{method: "POST", path: "/api/messages/dead-letter/retry?limit=0"}), http.StatusBadRequest)
}

// failingStore fails every list with an error that holds internal detail.
type failingStore struct {
	ims.MessageStore
}

func (failingStore) ListMessages(context.Context, ims.MessageFilter) (ims.MessagePage, error) {
	return ims.MessagePage{}, fmt.Errorf("list messages: %w", errors.New("disk I/O error at /var/lib/secret.db"))
}

func TestInternalErrorsAreLoggedNotShown(t *testing.T) {
	t.Parallel()
	var logs strings.Builder // the request is served synchronously, so no lock
	b := setup(t, func(o *setupOptions) {
		o.deps.Messages = failingStore{MessageStore: o.deps.Messages}
		o.logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	w := b.do(t, request{method: "GET", path: "/api/messages"})
	e := decode[apiError](t, w, http.StatusInternalServerError)
	require.Equal(t, "internal error", e.Error)
	require.NotContains(t, w.Body.String(), "secret")
	require.Contains(t, logs.String(), "disk I/O error at /var/lib/secret.db")
	require.Contains(t, logs.String(), "request_id="+w.Header().Get(RequestIDHeader))
}

func TestCreateBatchIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	post := func(body, key string) *postResult {
		w := b.do(t, request{method: "POST", path: "/api/messages/batch", body: body,
			headers: map[string]string{IdempotencyKeyHeader: key}})
		return &postResult{code: w.Code, replayed: w.Header().Get(IdempotentReplayedHeader), body: w.Body.String()}
	}
	body := `{"messages":[{"phone_number":"+905551234567","content":"one"},{"phone_number":"+905551234568","content":"two"}]}`

	first := post(body, "batch-7")
	require.Equal(t, http.StatusCreated, first.code, first.body)
	again := post(body, "batch-7")
	require.Equal(t, http.StatusOK, again.code, again.body)
	require.Equal(t, "true", again.replayed)
	var firstRes, againRes batchResponse
	require.NoError(t, json.Unmarshal([]byte(first.body), &firstRes))
	require.NoError(t, json.Unmarshal([]byte(again.body), &againRes))
	require.Equal(t, 2, firstRes.Created)
	require.Equal(t, 0, againRes.Created)
	require.Equal(t, firstRes.Messages, againRes.Messages)

	other := post(`{"messages":[{"phone_number":"+905551234567","content":"changed"}]}`, "batch-7")
	require.Equal(t, http.StatusConflict, other.code, other.body)

	tooLong := post(body, strings.Repeat("k", ims.MaxIdempotencyKeyLength))
	require.Equal(t, http.StatusUnprocessableEntity, tooLong.code, tooLong.body)
	require.Contains(t, tooLong.body, IdempotencyKeyHeader)

	require.EqualValues(t, 2, b.countMessages(t))
}

func TestNextAttemptAtOnlyWhileSomethingIsPlanned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fields := func(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
		t.Helper()
		return decode[map[string]any](t, w, http.StatusOK)
	}
	pending := b.createMessage(t, "+905551234567", "pending")
	require.Contains(t, fields(t, b.do(t, request{method: "GET", path: "/api/messages/" + pending.ID}))["message"], "next_attempt_at")

	canceled := fields(t, b.do(t, request{method: "DELETE", path: "/api/messages/" + pending.ID}))
	require.NotContains(t, canceled, "next_attempt_at")

	sent := b.createMessage(t, "+905551234567", "sent")
	b.finish(t, sent, ims.StatusSent, ims.DeliveryResult{StatusCode: 202})
	page := fields(t, b.do(t, request{method: "GET", path: "/api/messages/sent"}))
	require.NotContains(t, page["messages"].([]any)[0], "next_attempt_at")
	require.Contains(t, page["messages"].([]any)[0], "sent_at")
}
