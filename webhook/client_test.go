package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// captured is what the test server saw of one request.
type captured struct {
	method string
	header http.Header
	body   string
}

// capture returns a handler that records each request and answers with
// answer, plus the channel the records arrive on.
func capture(answer http.HandlerFunc) (http.HandlerFunc, <-chan captured) {
	ch := make(chan captured, 16)
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ch <- captured{method: r.Method, header: r.Header.Clone(), body: string(body)}
		answer(w, r)
	}, ch
}

func accepted(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"message":"Accepted","messageId":"prov-1"}`)
}

// setup starts a test server with h and a client pointed at it (at path
// /hook). edit, if not nil, adjusts the config before New.
func setup(t *testing.T, h http.Handler, edit func(*Config)) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{URL: srv.URL + "/hook", AuthKey: "auth-key-123", Timeout: 5 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, srv
}

func message(id, to, content string) ims.Message {
	return ims.Message{ID: id, PhoneNumber: to, Content: content}
}

func TestDeliverSendsContractRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		body    string
	}{
		{name: "plain", content: "hello", body: `{"to":"+905551112233","content":"hello"}`},
		{name: "quotes and backslash", content: `say "hi" \o/`, body: `{"to":"+905551112233","content":"say \"hi\" \\o/"}`},
		{name: "newlines and tab", content: "a\nb\r\nc\td", body: `{"to":"+905551112233","content":"a\nb\r\nc\td"}`},
		{name: "unicode kept as is", content: "Merhaba dünya 👋 <&>", body: `{"to":"+905551112233","content":"Merhaba dünya 👋 <&>"}`},
		{name: "control and separators escaped", content: "\x00\x1f\u2028\u2029", body: `{"to":"+905551112233","content":"\u0000\u001f\u2028\u2029"}`},
		{name: "invalid utf8 replaced", content: "a\xffb", body: `{"to":"+905551112233","content":"a\ufffdb"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, reqs := capture(accepted)
			c, _ := setup(t, h, nil)

			res := c.Deliver(t.Context(), message("0190f5e2-7b1c-7000-8000-000000000001", "+905551112233", tt.content))
			require.True(t, res.Succeeded(), "result: %+v", res)

			got := <-reqs
			require.Equal(t, http.MethodPost, got.method)
			require.Equal(t, tt.body, got.body)
			require.Equal(t, "application/json", got.header.Get("Content-Type"))
			require.Equal(t, "auth-key-123", got.header.Get("x-ins-auth-key"))
			require.Equal(t, "0190f5e2-7b1c-7000-8000-000000000001", got.header.Get("Idempotency-Key"))
			require.Empty(t, got.header.Get("webhook-signature"), "unsigned when no secret is set")

			var decoded struct{ To, Content string }
			require.NoError(t, json.Unmarshal([]byte(got.body), &decoded))
			require.Equal(t, "+905551112233", decoded.To)
			if !strings.Contains(tt.name, "invalid") {
				require.Equal(t, tt.content, decoded.Content)
			}
		})
	}
}

func TestDeliverOmitsEmptyAuthKey(t *testing.T) {
	t.Parallel()
	h, reqs := capture(accepted)
	c, _ := setup(t, h, func(cfg *Config) { cfg.AuthKey = "" })

	require.True(t, c.Deliver(t.Context(), message("id-1", "+1", "x")).Succeeded())
	got := <-reqs
	_, present := got.header["X-Ins-Auth-Key"]
	require.False(t, present)
}

func TestDeliverReadsAnswer(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	answer := func(status int, header map[string]string, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			for k, v := range header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		want       ims.DeliveryResult // Latency is not compared
		succeeded  bool
		permanent  bool
		compareRes bool
	}{
		{
			name:      "202 with messageId",
			handler:   accepted,
			want:      ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-1", Response: `{"message":"Accepted","messageId":"prov-1"}`},
			succeeded: true,
		},
		{
			name:      "200 without body",
			handler:   answer(200, nil, ""),
			want:      ims.DeliveryResult{StatusCode: 200},
			succeeded: true,
		},
		{
			name:      "204 no content",
			handler:   answer(204, nil, ""),
			want:      ims.DeliveryResult{StatusCode: 204},
			succeeded: true,
		},
		{
			name:      "200 with text body keeps no id",
			handler:   answer(200, nil, "OK"),
			want:      ims.DeliveryResult{StatusCode: 200, Response: "OK"},
			succeeded: true,
		},
		{
			name:      "200 JSON without messageId",
			handler:   answer(200, nil, `{"message":"Accepted"}`),
			want:      ims.DeliveryResult{StatusCode: 200, Response: `{"message":"Accepted"}`},
			succeeded: true,
		},
		{
			name:      "numeric messageId kept as text",
			handler:   answer(202, nil, `{"messageId":12345}`),
			want:      ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "12345", Response: `{"messageId":12345}`},
			succeeded: true,
		},
		{
			name:      "400 is permanent",
			handler:   answer(400, nil, `{"error":"bad phone"}`),
			want:      ims.DeliveryResult{StatusCode: 400, Response: `{"error":"bad phone"}`},
			permanent: true,
		},
		{
			name:    "500 is transient",
			handler: answer(500, map[string]string{"Retry-After": "9"}, "boom"),
			want:    ims.DeliveryResult{StatusCode: 500, Response: "boom"},
		},
		{
			name:    "429 with delta seconds",
			handler: answer(429, map[string]string{"Retry-After": "7"}, ""),
			want:    ims.DeliveryResult{StatusCode: 429, RetryAfter: 7 * time.Second},
		},
		{
			name:    "503 with HTTP-date",
			handler: answer(503, map[string]string{"Retry-After": fixed.Add(90 * time.Second).Format(http.TimeFormat)}, ""),
			want:    ims.DeliveryResult{StatusCode: 503, RetryAfter: 90 * time.Second},
		},
		{
			name:    "429 with garbage Retry-After",
			handler: answer(429, map[string]string{"Retry-After": "soon"}, ""),
			want:    ims.DeliveryResult{StatusCode: 429},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := setup(t, tt.handler, nil)
			c.now = func() time.Time { return fixed }

			res := c.Deliver(t.Context(), message("id-1", "+1", "x"))
			require.Positive(t, res.Latency)
			res.Latency = 0
			require.Equal(t, tt.want, res)
			require.Equal(t, tt.succeeded, res.Succeeded())
			require.Equal(t, tt.permanent, res.Permanent())
		})
	}
}

func TestDeliverDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var followed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		accepted(w, r)
	})
	c, _ := setup(t, mux, nil)

	res := c.Deliver(t.Context(), message("id-1", "+1", "x"))
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	require.Empty(t, res.Err)
	require.False(t, res.Succeeded())
	require.Zero(t, followed.Load())
}

// TestDeliverSendsURLUserinfoAsBasicAuth: the client calls the transport
// itself, so it must send what http.Client did for a URL with userinfo.
func TestDeliverSendsURLUserinfoAsBasicAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		userinfo string
		want     string // the Authorization header, "" for none
	}{
		{name: "user and password", userinfo: "u%20ser:p%40ss@", want: "Basic " + base64.StdEncoding.EncodeToString([]byte("u ser:p@ss"))},
		{name: "user only", userinfo: "token@", want: "Basic " + base64.StdEncoding.EncodeToString([]byte("token:"))},
		{name: "none", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, got := capture(accepted)
			c, _ := setup(t, h, func(cfg *Config) {
				cfg.URL = strings.Replace(cfg.URL, "http://", "http://"+tt.userinfo, 1)
			})
			res := c.Deliver(t.Context(), message("id-1", "+1", "x"))
			require.True(t, res.Succeeded(), "%+v", res)
			require.Equal(t, tt.want, (<-got).header.Get("Authorization"))
		})
	}
}

func TestDeliverCapsAndDrainsAnswer(t *testing.T) {
	t.Parallel()
	pad := strings.Repeat("a", 5000)
	tests := []struct {
		name   string
		body   string
		wantID string
	}{
		{name: "answer under the cap is parsed", body: `{"messageId":"m-1"}`, wantID: "m-1"},
		{name: "answer over the cap is cut, so no id", body: `{"messageId":"m-1","pad":"` + pad + `"}`, wantID: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var conns atomic.Int64
			h := func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				_, _ = io.WriteString(w, tt.body)
			}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(h))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			c, err := New(Config{URL: srv.URL, MaxResponseBytes: 1000})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })

			for range 3 {
				res := c.Deliver(t.Context(), message("id-1", "+1", "x"))
				require.True(t, res.Succeeded())
				require.Equal(t, tt.wantID, res.ProviderMessageID)
				require.LessOrEqual(t, len(res.Response), snippetBytes)
			}
			require.Equal(t, int64(1), conns.Load(), "drained answers keep the connection alive")
		})
	}
}

// blockingServer answers nothing until the test ends, so that only the
// client's timeout or cancellation can end a request.
func blockingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv
}

func TestDeliverTimesOut(t *testing.T) {
	t.Parallel()
	srv := blockingServer(t)
	c, err := New(Config{URL: srv.URL + "/hook?token=s3cret-token", Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	res := c.Deliver(t.Context(), message("id-1", "+1", "x"))
	require.Zero(t, res.StatusCode)
	require.Equal(t, "webhook request to "+srv.URL+"/hook timed out after 50ms", res.Err)
	require.False(t, res.Succeeded())
	require.False(t, res.Permanent())
}

func TestDeliverCanceled(t *testing.T) {
	t.Parallel()
	srv := blockingServer(t)
	c, err := New(Config{URL: srv.URL})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := c.Deliver(ctx, message("id-1", "+1", "x"))
	require.Zero(t, res.StatusCode)
	require.Contains(t, res.Err, "canceled")
}

func TestDeliverErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	const (
		token    = "s3cret-token"
		password = "pw-secret"
		authKey  = "auth-key-secret"
		signing  = "signing-secret"
	)
	// A port that refuses connections: listen, note the address, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := ln.Addr().String()
	require.NoError(t, ln.Close())

	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	blocking := blockingServer(t)

	tests := []struct {
		name    string
		host    string
		timeout time.Duration
	}{
		{name: "connection refused", host: refused, timeout: 5 * time.Second},
		{name: "connection closed without answer", host: strings.TrimPrefix(hangUp.URL, "http://"), timeout: 5 * time.Second},
		{name: "timeout", host: strings.TrimPrefix(blocking.URL, "http://"), timeout: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := "http://user:" + password + "@" + tt.host + "/hook?token=" + token + "&x=1"
			c, err := New(Config{URL: raw, AuthKey: authKey, SigningSecret: signing, Timeout: tt.timeout})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })

			res := c.Deliver(t.Context(), message("id-1", "+1", "x"))
			require.NotEmpty(t, res.Err)
			require.Contains(t, res.Err, "http://"+tt.host+"/hook")
			for _, secret := range []string{token, password, authKey, signing, "user:"} {
				require.NotContains(t, res.Err, secret)
			}
		})
	}
}

func TestDeliverSignsRequests(t *testing.T) {
	t.Parallel()
	rawKey := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name   string
		secret string
		key    []byte
	}{
		{name: "whsec_ secret is a base64 key", secret: "whsec_" + base64.StdEncoding.EncodeToString(rawKey), key: rawKey},
		{name: "plain secret is the key itself", secret: "plain-secret", key: []byte("plain-secret")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, reqs := capture(accepted)
			c, _ := setup(t, h, func(cfg *Config) { cfg.SigningSecret = tt.secret })
			now := time.Unix(1_700_000_000, 0)
			c.now = func() time.Time { return now }

			res := c.Deliver(t.Context(), message("msg-42", "+905551112233", "signed \"body\""))
			require.True(t, res.Succeeded())

			got := <-reqs
			require.Equal(t, "msg-42", got.header.Get("webhook-id"))
			require.Equal(t, "1700000000", got.header.Get("webhook-timestamp"))
			mac := hmac.New(sha256.New, tt.key)
			mac.Write([]byte("msg-42.1700000000." + got.body))
			want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
			require.Equal(t, want, got.header.Get("webhook-signature"))
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		errText string
	}{
		{name: "empty URL", cfg: Config{}, errText: "absolute http"},
		{name: "relative URL", cfg: Config{URL: "/hook"}, errText: "absolute http"},
		{name: "other scheme", cfg: Config{URL: "ftp://example.com/x"}, errText: "absolute http"},
		{name: "no host", cfg: Config{URL: "http:///x"}, errText: "no host"},
		{name: "unparseable URL hides its text", cfg: Config{URL: "http://example.com/%zz?token=s3cret"}, errText: "not a valid URL"},
		{name: "negative timeout", cfg: Config{URL: "http://x", Timeout: -time.Second}, errText: "timeout"},
		{name: "negative body cap", cfg: Config{URL: "http://x", MaxResponseBytes: -1}, errText: "max response"},
		{name: "negative pool", cfg: Config{URL: "http://x", MaxIdleConnsPerHost: -1}, errText: "idle"},
		{name: "auth key with newline", cfg: Config{URL: "http://x", AuthKey: "k\nX-Evil: 1"}, errText: "control character"},
		{name: "whsec_ secret not base64", cfg: Config{URL: "http://x", SigningSecret: "whsec_!!!s3cret"}, errText: "not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.cfg)
			require.Nil(t, c)
			require.ErrorContains(t, err, tt.errText)
			require.NotContains(t, err.Error(), "s3cret")
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{name: "empty", value: "", want: 0},
		{name: "seconds", value: "120", want: 2 * time.Minute},
		{name: "seconds with spaces", value: " 3 ", want: 3 * time.Second},
		{name: "zero", value: "0", want: 0},
		{name: "negative", value: "-5", want: 0},
		{name: "huge is capped", value: strconv.Itoa(365 * 24 * 3600), want: maxRetryAfter},
		{name: "HTTP-date ahead", value: now.Add(time.Hour).Format(http.TimeFormat), want: time.Hour},
		{name: "HTTP-date past", value: now.Add(-time.Hour).Format(http.TimeFormat), want: 0},
		{name: "RFC 850 date", value: now.Add(time.Minute).Format("Monday, 02-Jan-06 15:04:05 GMT"), want: time.Minute},
		{name: "garbage", value: "later", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, retryAfter(tt.value, now))
		})
	}
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want string
	}{
		{name: "short kept", body: "hello", want: "hello"},
		{name: "long cut", body: strings.Repeat("x", 600), want: strings.Repeat("x", 512)},
		{name: "cut on rune boundary", body: strings.Repeat("x", 511) + "ü" + "tail", want: strings.Repeat("x", 511)},
		{name: "invalid UTF-8 replaced", body: "a\xffb", want: "a\uFFFDb"},
		{name: "NUL replaced", body: "a\x00b", want: "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, snippet([]byte(tt.body)))
		})
	}
}
