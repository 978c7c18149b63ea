package http

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "test-api-key"

// bundle is what a test gets from setup: the server under test and the real
// store behind it, so a test can check what was (not) stored.
type bundle struct {
	srv   *Server
	store *sqlite.Store
	sched *fakeScheduler
	now   time.Time
}

// setupOptions is what an option may change before the server is built.
type setupOptions struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger
}

type option func(*setupOptions)

// setup builds a Server on a fresh SQLite database in a temporary directory.
func setup(t *testing.T, opts ...option) *bundle {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ims.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	store.Now = func() time.Time { return now }
	require.NoError(t, store.Migrate(ctx))
	// Running, so finish can claim (claims wait for a running scheduler state).
	_, err = store.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)

	sched := &fakeScheduler{status: ims.SchedulerStatus{Interval: 2 * time.Minute, BatchSize: 2, QueueMode: "db", Instance: "test-1"}}
	so := setupOptions{
		cfg:    Config{APIKey: testKey, Version: "1.2.3"},
		deps:   Deps{Messages: store, Audit: store, Scheduler: sched, Clock: func() time.Time { return now }},
		logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&so)
	}
	srv, err := NewServer(so.cfg, so.deps, so.logger)
	require.NoError(t, err)
	return &bundle{srv: srv, store: store, sched: sched, now: now}
}

// request is one call to the server under test.
type request struct {
	method  string
	path    string
	body    string
	noAuth  bool
	headers map[string]string
}

// do serves req in-process and returns the recorded answer.
func (b *bundle) do(t *testing.T, req request) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if req.body != "" {
		body = bytes.NewBufferString(req.body)
	}
	r := httptest.NewRequest(req.method, req.path, body)
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if !req.noAuth {
		r.Header.Set("Authorization", testKey)
	}
	for k, v := range req.headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	b.srv.ServeHTTP(w, r)
	return w
}

// decode asserts a JSON answer with the wanted status and decodes it.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder, status int) T {
	t.Helper()
	require.Equal(t, status, w.Code, "body: %s", w.Body.String())
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), "body: %s", w.Body.String())
	return v
}

// apiError is the decoded error body.
type apiError struct {
	Error   string         `json:"error"`
	Details map[string]any `json:"details"`
}

// createMessage creates a message through the API.
func (b *bundle) createMessage(t *testing.T, phone, content string) ims.Message {
	t.Helper()
	body, err := json.Marshal(map[string]string{"phone_number": phone, "content": content})
	require.NoError(t, err)
	return decode[ims.Message](t, b.do(t, request{method: "POST", path: "/api/messages", body: string(body)}), http.StatusCreated)
}

// finish delivers the one pending message m with the given outcome through the
// real delivery path of the store (claim, then record).
func (b *bundle) finish(t *testing.T, m ims.Message, status ims.Status, result ims.DeliveryResult) {
	t.Helper()
	ctx := context.Background()
	claimed, err := b.store.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Minute, Actor: "test"})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, m.ID, claimed[0].ID, "finish expects m to be the only due message")
	out := ims.Outcome{Claim: claimed[0].Claim(), Result: result, Decision: ims.Decision{Status: status, Reason: "test"}, At: b.now}
	require.NoError(t, b.store.RecordOutcomes(ctx, []ims.Outcome{out}, "test"))
}

// auditFilterFor selects the audit events of the message in a create answer.
func auditFilterFor(t *testing.T, w *httptest.ResponseRecorder) ims.AuditFilter {
	t.Helper()
	var m ims.Message
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m))
	require.NotEmpty(t, m.ID)
	return ims.AuditFilter{MessageID: m.ID, Limit: 10}
}

// countMessages returns how many messages the store holds.
func (b *bundle) countMessages(t *testing.T) int64 {
	t.Helper()
	counts, err := b.store.CountByStatus(context.Background())
	require.NoError(t, err)
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}

// fakeScheduler stands in for the scheduler; its state is all the API sees.
type fakeScheduler struct {
	mu     sync.Mutex
	status ims.SchedulerStatus
	err    error
}

func (f *fakeScheduler) set(running bool, actor string) (ims.SchedulerStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return ims.SchedulerStatus{}, f.err
	}
	f.status.Running, f.status.UpdatedBy = running, actor
	return f.status, nil
}

func (f *fakeScheduler) StartFleet(_ context.Context, actor string) (ims.SchedulerStatus, error) {
	return f.set(true, actor)
}

func (f *fakeScheduler) StopFleet(_ context.Context, actor string) (ims.SchedulerStatus, error) {
	st, err := f.set(false, actor)
	st.Fleet = &ims.FleetConfirmation{Version: 2, Confirmed: []string{"i-1"}, TimedOut: []string{"i-2"}}
	return st, err
}

func (f *fakeScheduler) Status(context.Context) (ims.SchedulerStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, f.err
}

// fakeCache is a SentCache with canned answers.
type fakeCache struct {
	entries map[string]ims.SentCacheEntry
	err     error
}

func (f *fakeCache) Put(context.Context, []ims.SentCacheEntry) error { return f.err }

func (f *fakeCache) Get(_ context.Context, id string) (ims.SentCacheEntry, bool, error) {
	if f.err != nil {
		return ims.SentCacheEntry{}, false, f.err
	}
	e, ok := f.entries[id]
	return e, ok, nil
}

func (f *fakeCache) Ping(context.Context) error { return f.err }
