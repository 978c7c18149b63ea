package http

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// Hostile input at every route of the table, so a route added later is
// probed without anyone remembering to (issue 7: "hostile bodies, headers
// and query strings at every endpoint"). The promises: never a 5xx, an API
// 2xx has a JSON body, and nothing is stored or changed.

var (
	hostileRouteQueries = []string{
		"x=1", "limit=0", "limit=99999999999999999999", "cursor=%00", "type=%ff", "status=%00", "%zz", "a=%", ";",
		"&&&", "phone_number=%00", "since=9999-12-31T23:59:59-23:59", "limit=1&limit=2", strings.Repeat("%ff", 3000),
	}
	hostileRouteHeaders = []map[string]string{
		{"Content-Type": "text/plain"}, {IdempotencyKeyHeader: "k\xff"}, {IdempotencyKeyHeader: strings.Repeat("k", 5000)},
		{"Content-Encoding": "gzip"}, {"X-Request-Id": "\xff\x00x"}, {"X-Request-Id": strings.Repeat("r", 10000)},
		{"Content-Type": "application/json; charset=latin1"}, {"Last-Event-Id": "%00\xff"}, {"Accept": "../../"},
	}
	hostileRouteBodies = []string{
		"{", "null", "[]", `"x"`, "{}", `{"x":1}`, "\xff\xfe\x00", `{"action":"stop\u0000"}`, `{"action":"stop","x":1}`,
		`{"action":"bogus"}`, `{"messages":[{"phone_number":"+905551234567","content":"a\u0000"}]}`,
		`{"phone_number":"+905551234567","content":"\ud800"}`,
		`{"phone_number":"+905551234567","content":"hi","send_at":"9999-12-31T23:59:59-23:59"}`,
		strings.Repeat("[", 10000), strings.Repeat(`{"a":`, 5000), `[{"messageId":"x\u0000","status":"delivered"}]`,
		`{"messageId":"\udfff","status":"delivered"}`, `{"ttl_seconds":-1}`, `{"expires_at":"0000-01-01T00:00:00+23:59"}`,
	}
	hostileRouteIDs   = []string{"00000000-0000-0000-0000-000000000000", "%00", "%ff", "..%2f..%2fgo.mod", strings.Repeat("x", 5000), "1", "-1"}
	hostileRouteFiles = []string{"%00", "%ff", "..%2f..%2fgo.mod", "..", strings.Repeat("x", 5000), "%2e%2e"}
)

// hostileRequest is one probe of a route.
type hostileRequest struct {
	path, rawQuery, body string
	headers              map[string]string
}

// hostileRequests are the probes of one route: every garbage path value,
// then each query, header set and (for a method with a body) body on the
// first path.
func hostileRequests(rt route) []hostileRequest {
	paths := []string{rt.pattern}
	switch {
	case strings.Contains(rt.pattern, "{id}"):
		paths = nil
		for _, id := range hostileRouteIDs {
			paths = append(paths, strings.Replace(rt.pattern, "{id}", id, 1))
		}
	case strings.Contains(rt.pattern, "{file}"):
		paths = nil
		for _, f := range hostileRouteFiles {
			paths = append(paths, strings.Replace(rt.pattern, "{file}", f, 1))
		}
	}
	paths[0] = strings.TrimSuffix(paths[0], "{$}") // GET / is the pattern /{$}
	var reqs []hostileRequest
	for _, p := range paths {
		reqs = append(reqs, hostileRequest{path: p})
	}
	for _, q := range hostileRouteQueries {
		reqs = append(reqs, hostileRequest{path: paths[0], rawQuery: q})
	}
	for _, h := range hostileRouteHeaders {
		reqs = append(reqs, hostileRequest{path: paths[0], headers: h})
	}
	if rt.method != "GET" {
		for _, body := range hostileRouteBodies {
			reqs = append(reqs, hostileRequest{path: paths[0], body: body})
			reqs = append(reqs, hostileRequest{path: paths[0], body: body, headers: hostileRouteHeaders[1]})
		}
	}
	return reqs
}

// answersJSON reports whether a route's 2xx is a JSON document: the API's,
// not the console's and docs' files or the event stream.
func answersJSON(rt route) bool {
	return strings.HasPrefix(rt.pattern, "/api/") && !strings.HasPrefix(rt.pattern, "/api/docs") &&
		rt.pattern != "/api/console/stream"
}

func TestHostileInputAtEveryRoute(t *testing.T) {
	t.Parallel()
	console := newCountingConsole()
	b := setup(t, withDLR, withConsole(console, 0), func(o *setupOptions) {
		o.deps.Stats = console
		o.deps.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("# metrics\n")) })
	})
	b.srv.deps.Reports = b.store
	b.createMessage(t, "+905551234567", "kept as it is")
	routes := b.srv.routeTable()
	require.Greater(t, len(routes), 20, "the whole table")
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.pattern, func(t *testing.T) {
			before := b.countMessages(t)
			control := b.sched.status
			for _, hr := range hostileRequests(rt) {
				w := b.serveHostile(rt, hr)
				desc := []any{"%s %s?%.60s headers %q body %.60q: %d %.200s", rt.method, hr.path, hr.rawQuery, hr.headers, hr.body, w.Code, w.Body.String()}
				require.Less(t, w.Code, 500, desc...)
				if w.Code >= 200 && w.Code < 300 && answersJSON(rt) {
					require.NotEmpty(t, bytes.TrimSpace(w.Body.Bytes()), desc...)
					require.True(t, json.Valid(w.Body.Bytes()), desc...)
				}
			}
			require.Equal(t, before, b.countMessages(t), "nothing stored")
			require.Equal(t, control, b.sched.status, "the scheduler untouched")
			page, err := b.store.ListMessages(context.Background(), ims.MessageFilter{Status: ims.StatusPending, Limit: 10})
			require.NoError(t, err)
			require.Len(t, page.Messages, 1, "the seeded message is still pending")
		})
	}
}

// serveHostile serves one probe with the route's key. The event stream
// gets a context that is already done, so that it answers and returns.
func (b *bundle) serveHostile(rt route, hr hostileRequest) *httptest.ResponseRecorder {
	r := httptest.NewRequest(rt.method, "/", strings.NewReader(hr.body))
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = hr.path, "", hr.rawQuery
	if strings.Contains(hr.path, "%") {
		r.URL.RawPath = hr.path
		if p, err := pathUnescape(hr.path); err == nil {
			r.URL.Path = p
		}
	}
	r.RequestURI = hr.path
	if rt.pattern == "/api/console/stream" {
		ctx, cancel := context.WithCancel(r.Context())
		cancel()
		r = r.WithContext(ctx)
	}
	if rt.pattern == "/api/delivery-reports" {
		r.Header[DLRAuthHeader] = []string{testDLRKey}
	} else {
		r.Header["Authorization"] = []string{testKey}
	}
	for k, v := range hr.headers {
		r.Header[k] = []string{v}
	}
	w := httptest.NewRecorder()
	b.srv.ServeHTTP(w, r)
	return w
}

// pathUnescape decodes a probe path as net/http would.
func pathUnescape(p string) (string, error) {
	u, err := url.Parse("http://x" + p)
	if err != nil {
		return "", err
	}
	return u.Path, nil
}
