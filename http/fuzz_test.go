package http

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/testenv"
	"github.com/insiderone/ims/postgres"
	"github.com/insiderone/ims/sqlite"
)

// The fuzz targets below run their seeds as ordinary tests under `go test`
// (so `make test` runs them); `make fuzz` runs each for FUZZTIME. They all
// assert the API's promises for any input: never a 5xx, a 2xx always has a
// JSON body, and a 4xx stores nothing.

// hostileBodies are single-create bodies that once got past validation or
// broke an answer (issue 7), plus ordinary ones to mutate from.
var hostileBodies = []string{
	`{"phone_number":"+905551234567","content":"Hello from IMS!"}`,
	`{"phone_number":"+905551234567","content":"hi","send_at":"2026-01-02T16:00:00Z"}`,
	`{"phone_number":"+905551234567","content":"hi","send_at":"9999-12-31T23:59:59-23:59"}`,
	`{"phone_number":"+905551234567","content":"hi","send_at":"0000-01-01T00:00:00+23:59"}`,
	`{"phone_number":"+905551234567","content":"hi","send_at":"2026-01-01T15:04:05.999999999Z"}`,
	`{"phone_number":"+905551234567","content":"a\u0000b"}`,
	`{"phone_number":"+905551234567","content":"a\u001bb\r"}`,
	`{"phone_number":"+905551234567","content":"\u200b\u200b"}`,
	`{"phone_number":"+905551234567","content":"\ud800"}`,
	`{"phone_number":"+905551234567","content":"\udc00\ud800"}`,
	`{"phone_number":"+905551234567","content":"\ud83d\ude00"}`,
	`{"phone_number":"+905551234567","content":"a\\ud800"}`,
	"{\"phone_number\":\"+905551234567\",\"content\":\"a\xffb\"}",
	"{\"phone_number\":\"+905551234567\",\"content\":\"\xed\xa0\x80\"}",
	`{"phone_number":"+905551234567\u0000","content":"hi"}`,
	`{"phone_number":"+905551234567","content":"hi","content":"again"}`,
	`{"phone_number":"+905551234567","content":"hi","x":1}`,
	`{"phone_number":1,"content":[]}`,
	`{"phone_number":"+905551234567","content":"hi"} {}`,
	`null`, `[]`, `"x"`, ``, `{`,
}

// hostileKeys are Idempotency-Key values, "" meaning none.
var hostileKeys = []string{"", "order-42", "k#0", "k\x00", "k\xff", "k\x1b", strings.Repeat("k", 256), "\t"}

// requireContract checks the promises every answer keeps.
func requireContract(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	require.Less(t, w.Code, 500, "never a 5xx: %s", w.Body.String())
	if w.Code >= 200 && w.Code < 300 {
		require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
		require.NotEmpty(t, bytes.TrimSpace(w.Body.Bytes()), "a 2xx has a body")
		require.True(t, json.Valid(w.Body.Bytes()), "a 2xx has a JSON body: %q", w.Body.String())
	}
}

// fuzzAPI is a server under fuzzing and the store behind it, SQLite or
// PostgreSQL.
type fuzzAPI struct {
	srv   *Server
	store ims.Store
}

// countMessages returns how many messages the store holds.
func (b *fuzzAPI) countMessages(t testing.TB) int64 {
	t.Helper()
	counts, err := b.store.CountByStatus(context.Background())
	require.NoError(t, err)
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}

// serveRaw serves a request built by hand, so that any bytes can be in the
// query and headers (httptest.NewRequest panics on a bad URL).
func (b *fuzzAPI) serveRaw(method, path, rawQuery string, headers map[string]string, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.URL.RawQuery = rawQuery
	r.Header["Authorization"] = []string{testKey}
	for k, v := range headers {
		r.Header[k] = []string{v}
	}
	w := httptest.NewRecorder()
	b.srv.ServeHTTP(w, r)
	return w
}

// fuzzCreate posts body with key and checks the contract, that a 4xx stored
// nothing and that a created message reads back as it was sent.
func fuzzCreate(t *testing.T, b *fuzzAPI, path, body, key string) {
	before := b.countMessages(t)
	headers := map[string]string{}
	if key != "" {
		headers[IdempotencyKeyHeader] = key
	}
	w := b.serveRaw("POST", path, "", headers, body)
	requireContract(t, w)
	if w.Code >= 400 {
		require.Equal(t, before, b.countMessages(t), "a %d stored something", w.Code)
		return
	}
	if w.Code != http.StatusCreated || path != "/api/messages" {
		return
	}
	var m ims.Message
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m))
	got := b.serveRaw("GET", "/api/messages/"+m.ID, "", nil, "")
	requireContract(t, got)
	require.Equal(t, http.StatusOK, got.Code)
	var d messageDetail
	require.NoError(t, json.Unmarshal(got.Body.Bytes(), &d))
	require.Equal(t, m.Content, d.Message.Content, "stored as accepted")
	require.Empty(t, ims.CheckText(d.Message.Content))
	list := b.serveRaw("GET", "/api/messages", "limit=1", nil, "")
	requireContract(t, list)
	require.Equal(t, http.StatusOK, list.Code, "a list holding it still answers")
}

func addCreateSeeds(f *testing.F) {
	for _, body := range hostileBodies {
		for _, key := range []string{"", "k"} {
			f.Add(body, key)
		}
	}
	for _, key := range hostileKeys {
		f.Add(hostileBodies[0], key)
	}
}

// fuzzNow is the clock of the fuzz targets' stores and servers.
var fuzzNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// setupFuzz is setup for a fuzz target (setup takes a *testing.T): a Server
// on store, whose clock must be fuzzNow.
func setupFuzz(f *testing.F, store ims.Store, opts ...option) *fuzzAPI {
	f.Helper()
	sched := &fakeScheduler{status: ims.SchedulerStatus{Interval: 2 * time.Minute, BatchSize: 2, QueueMode: "db", Instance: "test-1"}}
	so := setupOptions{
		cfg:    Config{APIKey: testKey, Version: "1.2.3"},
		deps:   Deps{Messages: store, Audit: store, Scheduler: sched, Clock: func() time.Time { return fuzzNow }},
		logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&so)
	}
	srv, err := NewServer(so.cfg, so.deps, so.logger)
	require.NoError(f, err)
	return &fuzzAPI{srv: srv, store: store}
}

// setupSQLite is setupFuzz on a fresh SQLite database.
func setupSQLite(f *testing.F, opts ...option) *fuzzAPI {
	f.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "ims.db"))
	require.NoError(f, err)
	f.Cleanup(func() { require.NoError(f, store.Close()) })
	store.Now = func() time.Time { return fuzzNow }
	require.NoError(f, store.Migrate(context.Background()))
	return setupFuzz(f, store, opts...)
}

func FuzzCreateMessage(f *testing.F) {
	addCreateSeeds(f)
	b := setupSQLite(f)
	f.Fuzz(func(t *testing.T, body, key string) {
		fuzzCreate(t, b, "/api/messages", body, key)
	})
}

// FuzzCreateMessagePostgres is FuzzCreateMessage over the PostgreSQL store:
// whatever the API accepts must be storable there (it once answered 500 for
// a NUL that SQLite took).
func FuzzCreateMessagePostgres(f *testing.F) {
	addCreateSeeds(f)
	b := setupPostgres(f)
	f.Fuzz(func(t *testing.T, body, key string) {
		fuzzCreate(t, b, "/api/messages", body, key)
	})
}

// setupPostgres is setup on a PostgreSQL store of its own. It needs
// PostgreSQL (skipped locally without it, failing under CI) and is skipped
// under -short, where the SQLite targets still run.
func setupPostgres(f *testing.F) *fuzzAPI {
	f.Helper()
	if testing.Short() {
		f.Skip("needs PostgreSQL; skipped under -short (the SQLite targets cover the rest)")
	}
	store, err := postgres.Open(context.Background(), testenv.PostgresURL(f))
	require.NoError(f, err)
	f.Cleanup(func() { require.NoError(f, store.Close()) })
	store.Now = func() time.Time { return fuzzNow }
	require.NoError(f, store.Migrate(context.Background()))
	return setupFuzz(f, store)
}

func FuzzCreateBatch(f *testing.F) {
	for _, body := range hostileBodies {
		f.Add(`{"messages":[`+body+`]}`, "")
		f.Add(`{"messages":[{"phone_number":"+905551234567","content":"ok"},`+body+`]}`, "b")
	}
	for _, key := range hostileKeys {
		f.Add(`{"messages":[`+hostileBodies[0]+`]}`, key)
	}
	f.Add(`{"messages":[]}`, "")
	f.Add(`{"messages":null}`, "")
	f.Add(`{"messages":[null]}`, "")
	b := setupSQLite(f, func(o *setupOptions) { o.cfg.MaxBatchSize = 5 })
	f.Fuzz(func(t *testing.T, body, key string) {
		fuzzCreate(t, b, "/api/messages/batch", body, key)
	})
}

// listPaths are the endpoints whose query parameters are fuzzed.
var listPaths = []struct{ method, path string }{
	{"GET", "/api/messages"},
	{"GET", "/api/messages/sent"},
	{"GET", "/api/messages/dead-letter"},
	{"GET", "/api/audit"},
	{"POST", "/api/messages/dead-letter/retry"},
}

// seed creates one message, so the lists have something to page.
func (b *fuzzAPI) seed(f *testing.F) {
	f.Helper()
	w := b.serveRaw("POST", "/api/messages", "", nil, `{"phone_number":"+905551234567","content":"one"}`)
	require.Equal(f, http.StatusCreated, w.Code, w.Body.String())
}

func addListSeeds(f *testing.F) {
	for i := range listPaths {
		for _, q := range []string{
			"", "limit=2", "limit=0", "limit=-1", "limit=99999999999999999999", "status=pending", "status=%00", "status=%ff",
			"cursor=0190a0b0-0000-7000-8000-000000000000", "cursor=%ff", "cursor=1", "cursor=-1", "type=message.sent",
			"type=%00", "type=%ff", "type=nope", "message_id=%00", "since=2026-01-01T00:00:00Z", "since=9999-12-31T23:59:59-23:59",
			"until=0000-01-01T00:00:00%2B23:59", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "foo=bar", "limit=1&limit=2",
			"%zz", "a=%", ";", "&&&", "limit=1;cursor=2",
		} {
			f.Add(uint8(i), q)
		}
	}
}

// fuzzList asks one list endpoint with rawQuery: a page or a 400, and
// nothing changes.
func fuzzList(t *testing.T, b *fuzzAPI, which uint8, rawQuery string) {
	ep := listPaths[int(which)%len(listPaths)]
	before := b.countMessages(t)
	w := b.serveRaw(ep.method, ep.path, rawQuery, nil, "")
	requireContract(t, w)
	require.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, w.Code, "body: %s", w.Body.String())
	require.Equal(t, before, b.countMessages(t))
}

func FuzzListQuery(f *testing.F) {
	addListSeeds(f)
	b := setupSQLite(f)
	b.seed(f) // a list with something in it
	f.Fuzz(func(t *testing.T, which uint8, rawQuery string) { fuzzList(t, b, which, rawQuery) })
}

// FuzzListQueryPostgres: every filter the API accepts is one PostgreSQL can
// run (?type=%00 once answered 500).
func FuzzListQueryPostgres(f *testing.F) {
	addListSeeds(f)
	b := setupPostgres(f)
	b.seed(f)
	f.Fuzz(func(t *testing.T, which uint8, rawQuery string) { fuzzList(t, b, which, rawQuery) })
}

func FuzzAuthHeader(f *testing.F) {
	for _, h := range []string{
		testKey, "Bearer " + testKey, "bearer " + testKey, "BEARER   " + testKey + "  ", " " + testKey, "Bearer", "Bearer ",
		"", "Basic " + testKey, testKey + "x", "Bearer Bearer " + testKey, "\x00", "\xff", strings.Repeat("k", 10000),
	} {
		f.Add(h)
	}
	b := setupSQLite(f)
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/api/control", nil)
		r.Header["Authorization"] = []string{header}
		w := httptest.NewRecorder()
		b.srv.ServeHTTP(w, r)
		requireContract(t, w)
		key := strings.TrimSpace(header)
		if len(key) > 7 && strings.EqualFold(key[:7], "bearer ") {
			key = strings.TrimSpace(key[7:])
		}
		if key == testKey {
			require.Equal(t, http.StatusOK, w.Code)
		} else {
			require.Equal(t, http.StatusUnauthorized, w.Code, "header %q", header)
		}
	})
}
