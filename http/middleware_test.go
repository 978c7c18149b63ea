package http

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name   string
		header string
		status int
		errMsg string
	}{
		{"none", "", http.StatusUnauthorized, "missing API key"},
		{"wrong", "nope", http.StatusUnauthorized, "invalid API key"},
		{"wrong bearer", "Bearer nope", http.StatusUnauthorized, "invalid API key"},
		{"key prefix only", "Bearer " + testKey[:4], http.StatusUnauthorized, "invalid API key"},
		{"bearer without key", "Bearer ", http.StatusUnauthorized, "missing API key"},
		{"raw key", testKey, http.StatusOK, ""},
		{"bearer", "Bearer " + testKey, http.StatusOK, ""},
		{"lowercase bearer", "bearer " + testKey, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request{method: "GET", path: "/api/messages", noAuth: true}
			if tt.header != "" {
				req.headers = map[string]string{"Authorization": tt.header}
			}
			w := b.do(t, req)
			if tt.status == http.StatusOK {
				decode[map[string]any](t, w, http.StatusOK)
				return
			}
			e := decode[apiError](t, w, tt.status)
			require.Contains(t, e.Error, tt.errMsg)
			require.Equal(t, `Bearer realm="ims"`, w.Header().Get("WWW-Authenticate"))
		})
	}
}

func TestAuthCoversEveryPrivateRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, rt := range b.srv.routes {
		if !rt.auth {
			continue
		}
		path := strings.ReplaceAll(rt.pattern, "{id}", "0190a0b0-0000-7000-8000-000000000000")
		t.Run(rt.method+" "+path, func(t *testing.T) {
			t.Parallel()
			w := b.do(t, request{method: rt.method, path: path, noAuth: true})
			decode[apiError](t, w, http.StatusUnauthorized)
		})
	}
	require.Zero(t, b.countMessages(t))
}

func TestPublicRoutesNeedNoKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/api/health", "/api/openapi.json", "/api/docs", "/api/docs/swagger-ui.css"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			w := b.do(t, request{method: "GET", path: path, noAuth: true})
			require.Equal(t, http.StatusOK, w.Code)
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name string
		sent string
		keep bool
	}{
		{"honoured", "abc-123_X.y:z", true},
		{"generated when absent", "", false},
		{"replaced when unsafe", "bad id\nwith newline", false},
		{"replaced when too long", strings.Repeat("a", maxRequestIDLength+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request{method: "POST", path: "/api/messages", body: `{"phone_number":"+905551234567","content":"hi"}`}
			if tt.sent != "" {
				req.headers = map[string]string{RequestIDHeader: tt.sent}
			}
			w := b.do(t, req)
			require.Equal(t, http.StatusCreated, w.Code)
			got := w.Header().Get(RequestIDHeader)
			require.NotEmpty(t, got)
			if tt.keep {
				require.Equal(t, tt.sent, got)
			} else {
				require.NotEqual(t, tt.sent, got)
			}
			// The request id is the audit actor of what the request did.
			page, err := b.store.ListAudit(context.Background(), auditFilterFor(t, w))
			require.NoError(t, err)
			require.Len(t, page.Events, 1)
			require.Equal(t, "api:"+got, page.Events[0].Actor)
		})
	}
}

func TestUnknownRouteAndMethodAreJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"unknown path", "GET", "/api/nope", http.StatusNotFound, ""},
		{"unknown nested path", "GET", "/api/messages/x/y/z", http.StatusNotFound, ""},
		{"wrong method", "DELETE", "/api/control", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"wrong method on health", "POST", "/api/health", http.StatusMethodNotAllowed, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := b.do(t, request{method: tt.method, path: tt.path})
			e := decode[apiError](t, w, tt.status)
			require.NotEmpty(t, e.Error)
			if tt.allow != "" {
				require.Equal(t, tt.allow, w.Header().Get("Allow"))
				require.Equal(t, tt.allow, e.Details["allowed"])
			}
		})
	}
}

func TestPanicBecomes500JSON(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	b := setup(t, func(o *setupOptions) {
		o.deps.Metrics = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret internals") })
		o.logger = slog.New(slog.NewTextHandler(&logs, nil))
	})

	w := b.do(t, request{method: "GET", path: "/metrics"})
	e := decode[apiError](t, w, http.StatusInternalServerError)
	require.Equal(t, "internal error", e.Error)
	require.NotContains(t, w.Body.String(), "secret")
	require.Contains(t, logs.String(), "boom: secret internals")
}

func TestAccessLogNeverShowsTheKey(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	b := setup(t, func(o *setupOptions) {
		o.logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})

	b.do(t, request{method: "GET", path: "/api/messages"})
	b.do(t, request{method: "GET", path: "/api/messages", noAuth: true, headers: map[string]string{"Authorization": "Bearer wrong-key-123"}})
	require.Contains(t, logs.String(), `"path":"/api/messages"`)
	require.Contains(t, logs.String(), `"status":401`)
	require.NotContains(t, logs.String(), testKey)
	require.NotContains(t, logs.String(), "wrong-key-123")
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.cfg.MaxBodyBytes = 64 })
	big := `{"phone_number":"+905551234567","content":"` + strings.Repeat("x", 100) + `"}`
	for _, path := range []string{"/api/messages", "/api/messages/batch", "/api/control"} {
		t.Run(path, func(t *testing.T) {
			w := b.do(t, request{method: "POST", path: path, body: big})
			e := decode[apiError](t, w, http.StatusRequestEntityTooLarge)
			require.Contains(t, e.Error, "larger than 64 bytes")
		})
	}
	require.Zero(t, b.countMessages(t))
}

func TestNewServerRejectsBadConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	full := Deps{Messages: b.store, Audit: b.store, Scheduler: b.sched}
	tests := []struct {
		name string
		cfg  Config
		deps Deps
	}{
		{"no key", Config{}, full},
		{"no store", Config{APIKey: "k"}, Deps{Scheduler: b.sched}},
		{"no scheduler", Config{APIKey: "k"}, Deps{Messages: b.store, Audit: b.store}},
		{"nameless check", Config{APIKey: "k"}, Deps{Messages: b.store, Audit: b.store, Scheduler: b.sched,
			Health: []HealthCheck{{Check: func(context.Context) (string, error) { return "", nil }}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(tt.cfg, tt.deps, nil)
			require.Error(t, err)
		})
	}
}

func TestRealServerReadmeCurls(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := httptest.NewServer(b.srv)
	defer ts.Close()

	post := func(path, body string) *http.Response {
		req, err := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", testKey)
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp
	}
	require.Equal(t, http.StatusOK, post("/api/control", `{"action": "start"}`).StatusCode)
	require.Equal(t, http.StatusCreated, post("/api/messages", `{
    "phone_number": "+1234567890",
    "content": "Hello from IMS!"
  }`).StatusCode)
	require.Equal(t, http.StatusOK, post("/api/control", `{"action": "stop"}`).StatusCode)

	resp, err := ts.Client().Get(ts.URL + "/api/health")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
