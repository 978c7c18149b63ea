package http

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// unencodableStore lists one message whose send_at JSON cannot write (year
// 10000), as a row stored before send_at was bounded would be.
type unencodableStore struct {
	ims.MessageStore
}

func (unencodableStore) ListMessages(context.Context, ims.MessageFilter) (ims.MessagePage, error) {
	at := time.Date(10000, 1, 1, 23, 58, 59, 0, time.UTC)
	return ims.MessagePage{Messages: []ims.Message{{ID: "0190a0b0-0000-7000-8000-000000000000", Status: ims.StatusPending, SendAt: &at}}}, nil
}

func TestUnencodableResponseIsALogged500(t *testing.T) {
	t.Parallel()
	var logs strings.Builder // the request is served synchronously, so no lock
	b := setup(t, func(o *setupOptions) {
		o.deps.Messages = unencodableStore{MessageStore: o.deps.Messages}
		o.logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	w := b.do(t, request{method: "GET", path: "/api/messages"})
	e := decode[apiError](t, w, http.StatusInternalServerError)
	require.Equal(t, "internal error", e.Error)
	require.Equal(t, fmt.Sprint(w.Body.Len()), w.Header().Get("Content-Length"))
	require.Contains(t, logs.String(), "level=ERROR")
	require.Contains(t, logs.String(), "encode response")
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		v      any
		want   int
		body   string
	}{
		{"encodable", http.StatusCreated, map[string]int{"a": 1}, http.StatusCreated, "{\"a\":1}\n"},
		{"unencodable value", http.StatusCreated, map[string]any{"c": make(chan int)}, http.StatusInternalServerError, "{\"error\":\"internal error\"}\n"},
		{"time past year 9999", http.StatusOK, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), http.StatusInternalServerError, "{\"error\":\"internal error\"}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			w.Header().Set("Location", "/api/messages/x")
			writeJSON(w, httptest.NewRequest("GET", "/", nil), slog.New(slog.DiscardHandler), tt.status, tt.v)
			require.Equal(t, tt.want, w.Code)
			require.Equal(t, tt.body, w.Body.String())
			require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
			if tt.want >= 500 {
				require.Empty(t, w.Header().Get("Location"), "a failed create points nowhere")
			}
		})
	}
}

// canceledStore fails like a store call whose request context ended.
type canceledStore struct {
	ims.MessageStore
}

func (canceledStore) ListMessages(context.Context, ims.MessageFilter) (ims.MessagePage, error) {
	return ims.MessagePage{}, fmt.Errorf("list messages: %w", context.Canceled)
}

func TestClientCloseIsNotAServerError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cancel     bool
		wantLevel  string
		wantStatus int
	}{
		{"client gone: debug, 499", true, "level=DEBUG", StatusClientClosedRequest},
		{"same failure with the client still there: error, 500", false, "level=ERROR", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs strings.Builder
			b := setup(t, func(o *setupOptions) {
				o.deps.Messages = canceledStore{MessageStore: o.deps.Messages}
				o.logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				cancel()
			} else {
				defer cancel()
			}
			r := httptest.NewRequestWithContext(ctx, "GET", "/api/messages", nil)
			r.Header.Set("Authorization", testKey)
			w := httptest.NewRecorder()
			b.srv.ServeHTTP(w, r)
			require.Equal(t, tt.wantStatus, w.Code)
			if tt.cancel {
				require.NotContains(t, logs.String(), "level=ERROR")
				require.NotContains(t, logs.String(), "level=INFO")
				require.Contains(t, logs.String(), "client closed request")
				require.Contains(t, logs.String(), "status=499")
			} else {
				require.Contains(t, logs.String(), tt.wantLevel+" msg=\"request failed\"")
			}
		})
	}
}

// cutBody is a request body whose client left part-way: net/http's body
// reader answers io.ErrUnexpectedEOF when the connection closes before the
// declared Content-Length arrived.
type cutBody struct{ sent *strings.Reader }

func (c *cutBody) Read(p []byte) (int, error) {
	if c.sent.Len() == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	return c.sent.Read(p)
}

// TestBodyCutShortIsAClientClose: a client that disconnects while sending
// its body is logged at debug as a client close on every endpoint that
// reads a body, not as a 400 "malformed JSON" at info (or a 500 at error).
func TestBodyCutShortIsAClientClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		path    string
		body    string
		headers map[string]string
	}{
		{"create", "/api/messages", `{"phone_number":"+905551234567","content":"hel`, nil},
		{"batch", "/api/messages/batch", `{"messages":[{"phone_number":"+9055`, nil},
		{"control", "/api/control", `{"action":"st`, nil},
		{"delivery reports", "/api/delivery-reports", `{"messageId":"p-1",`, map[string]string{DLRAuthHeader: testDLRKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs strings.Builder
			b := setup(t, withDLR, func(o *setupOptions) {
				o.logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			b.srv.deps.Reports = b.store
			r := httptest.NewRequest("POST", tt.path, &cutBody{sent: strings.NewReader(tt.body)})
			r.Header.Set("Authorization", testKey)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			b.srv.ServeHTTP(w, r)
			require.Equal(t, StatusClientClosedRequest, w.Code, "body: %s", w.Body.String())
			require.NotContains(t, logs.String(), "level=ERROR")
			require.NotContains(t, logs.String(), "level=INFO")
			require.Contains(t, logs.String(), `level=DEBUG msg="client closed request"`)
			require.Equal(t, int64(0), b.countMessages(t), "nothing stored")
		})
	}
}
