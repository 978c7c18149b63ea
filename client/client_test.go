package client_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	imshttp "github.com/insiderone/ims/http"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bundle is what a test gets from setup: a client of a real in-process
// server, the store behind it, and every request the server saw.
type bundle struct {
	srv *testServer
	c   *client.Client
	rec *recorder
}

func setup(t *testing.T, opts ...func(*serverOptions)) *bundle {
	t.Helper()
	rec := &recorder{}
	o := serverOptions{wrap: rec.wrap}
	for _, opt := range opts {
		opt(&o)
	}
	srv, err := startServer(o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return &bundle{srv: srv, c: newClient(t, srv, client.WithAPIKey(apiKey)), rec: rec}
}

// newClient is a client of srv over the test server's own transport, which
// srv.Close shuts.
func newClient(t *testing.T, srv *testServer, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(srv.URL, append([]client.Option{client.WithHTTPClient(srv.ts.Client())}, opts...)...)
	require.NoError(t, err)
	return c
}

// recorder keeps the method, path, query and headers of every request.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Clone(context.Background()))
		r.mu.Unlock()
		next.ServeHTTP(w, req)
	})
}

func (r *recorder) all() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

func (r *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	reqs := r.all()
	require.NotEmpty(t, reqs)
	return reqs[len(reqs)-1]
}

// create makes a message through the client.
func (b *bundle) create(t *testing.T, content string) ims.Message {
	t.Helper()
	res, err := b.c.CreateMessage(context.Background(), client.NewMessage{PhoneNumber: "+905551234567", Content: content}, "")
	require.NoError(t, err)
	require.True(t, res.Created)
	return res.Message
}

// finishAll delivers every due message with the given outcome through the
// store's real delivery path (claim, then record), and returns how many.
func (b *bundle) finishAll(t *testing.T, status ims.Status, result ims.DeliveryResult) int {
	t.Helper()
	ctx := context.Background()
	claimed, err := b.srv.Store.ClaimDue(ctx, ims.ClaimParams{Limit: 1000, Lease: time.Minute, Actor: "test"})
	require.NoError(t, err)
	outs := make([]ims.Outcome, len(claimed))
	for i, m := range claimed {
		outs[i] = ims.Outcome{Claim: m.Claim(), Result: result, Decision: ims.Decision{Status: status, Reason: "test"}, At: time.Now()}
	}
	require.NoError(t, b.srv.Store.RecordOutcomes(ctx, outs, "test"))
	return len(claimed)
}

// requireCode asserts that err is an *ims.Error with code.
func requireCode(t *testing.T, err error, code string) *ims.Error {
	t.Helper()
	var e *ims.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, code, e.Code, "error: %v", err)
	require.NotEmpty(t, e.Message)
	return e
}

func TestNewRejectsBadSettings(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "http://host?x=1", "http://host/#frag", "http://[::1"} {
		_, err := client.New(base)
		require.Error(t, err, "base %q", base)
	}
	_, err := client.New("http://host", client.WithHTTPClient(nil))
	require.Error(t, err)

	const key = "secret\nkey"
	_, err = client.New("http://host", client.WithAPIKey(key))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret", "an error must never quote the key")

	_, err = client.New("http://host", client.WithUserAgent("bad\r\nagent"))
	require.Error(t, err)
}

func TestRequestsCarryKeyAndUserAgent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newClient(t, b.srv, client.WithAPIKey(apiKey), client.WithUserAgent("ims-test/1"))
	_, err := c.ControlStatus(context.Background())
	require.NoError(t, err)
	r := b.rec.last(t)
	require.Equal(t, "Bearer "+apiKey, r.Header.Get("Authorization"))
	require.Equal(t, "ims-test/1", r.Header.Get("User-Agent"))
	require.Equal(t, "application/json", r.Header.Get("Accept"))

	_, err = b.c.ControlStatus(context.Background())
	require.NoError(t, err)
	require.Equal(t, client.DefaultUserAgent, b.rec.last(t).Header.Get("User-Agent"))
}

func TestBaseURLPathIsAPrefix(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *serverOptions) {
		o.wrap = func(next http.Handler) http.Handler { return http.StripPrefix("/ims", next) }
	})
	c, err := client.New(b.srv.URL+"/ims/", client.WithAPIKey(apiKey), client.WithHTTPClient(b.srv.ts.Client()))
	require.NoError(t, err)
	_, err = c.ControlStatus(context.Background())
	require.NoError(t, err)
}

func TestWrongOrMissingAPIKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const wrong = "not-the-key-0123"
	for _, c := range []*client.Client{newClient(t, b.srv, client.WithAPIKey(wrong)), newClient(t, b.srv)} {
		_, err := c.ListMessages(ctx, client.MessageFilter{})
		requireCode(t, err, ims.EUNAUTHORIZED)
		require.NotContains(t, err.Error(), wrong)
	}
	// The open routes need no key.
	_, err := newClient(t, b.srv).Health(ctx)
	require.NoError(t, err)
}

func TestCreateAndGetMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Within SEND_AT_HORIZON's default year, in a zone other than UTC.
	sendAt := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second).In(time.FixedZone("TRT", 3*3600))
	res, err := b.c.CreateMessage(ctx, client.NewMessage{PhoneNumber: "+905551234567", Content: "Hello from IMS!", SendAt: &sendAt}, "")
	require.NoError(t, err)
	require.True(t, res.Created)
	m := res.Message
	require.NotEmpty(t, m.ID)
	require.Equal(t, "+905551234567", m.PhoneNumber)
	require.Equal(t, "Hello from IMS!", m.Content)
	require.Equal(t, ims.StatusPending, m.Status)
	require.NotNil(t, m.SendAt)
	require.True(t, m.SendAt.Equal(sendAt), "send_at %v", m.SendAt)
	require.False(t, m.CreatedAt.IsZero())

	d, err := b.c.GetMessage(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, m.ID, d.Message.ID)
	require.Equal(t, m.Content, d.Message.Content)
	require.Empty(t, d.Attempts)
	require.NotNil(t, d.Attempts, "attempts is [] on the wire")
	require.Equal(t, client.CacheEntry{}, d.Cache, "no cache configured")
}

func TestGetMessageWithAttemptsAndCache(t *testing.T) {
	t.Parallel()
	sentAt := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	cache := &fakeCache{entries: map[string]ims.SentCacheEntry{}}
	b := setup(t, func(o *serverOptions) { o.cache = cache })
	ctx := context.Background()
	m := b.create(t, "cached")
	cache.put(ims.SentCacheEntry{MessageID: m.ID, ProviderMessageID: "prov-1", SentAt: sentAt})
	require.Equal(t, 1, b.finishAll(t, ims.StatusSent,
		ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-1", Latency: 42 * time.Millisecond, Response: `{"message":"Accepted"}`}))

	d, err := b.c.GetMessage(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, ims.StatusSent, d.Message.Status)
	require.Equal(t, "prov-1", d.Message.ProviderMessageID)
	require.NotNil(t, d.Message.SentAt)
	require.Len(t, d.Attempts, 1)
	a := d.Attempts[0]
	require.Equal(t, m.ID, a.MessageID)
	require.Equal(t, 1, a.Number)
	require.Equal(t, 202, a.StatusCode)
	require.Equal(t, 42*time.Millisecond, a.Latency)
	require.Equal(t, ims.StatusSent, a.Outcome)
	require.Contains(t, a.Response, "Accepted")
	require.True(t, d.Cache.Enabled)
	require.True(t, d.Cache.Cached)
	require.Equal(t, "prov-1", d.Cache.ProviderMessageID)
	require.NotNil(t, d.Cache.SentAt)
	require.True(t, d.Cache.SentAt.Equal(sentAt))

	cache.fail(errors.New("redis down"))
	d, err = b.c.GetMessage(ctx, m.ID)
	require.NoError(t, err, "a cache outage is part of the answer, not an error")
	require.True(t, d.Cache.Enabled)
	require.False(t, d.Cache.Cached)
	require.NotEmpty(t, d.Cache.Error)
}

func TestCreateMessageIdempotentReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := client.NewMessage{PhoneNumber: "+905551234567", Content: "once"}
	first, err := b.c.CreateMessage(ctx, m, "key-1")
	require.NoError(t, err)
	require.True(t, first.Created)
	require.Equal(t, "key-1", b.rec.last(t).Header.Get("Idempotency-Key"))
	require.Equal(t, "key-1", first.Message.IdempotencyKey)

	again, err := b.c.CreateMessage(ctx, m, "key-1")
	require.NoError(t, err)
	require.False(t, again.Created)
	require.Equal(t, first.Message.ID, again.Message.ID)

	_, err = b.c.CreateMessage(ctx, client.NewMessage{PhoneNumber: "+905551234567", Content: "other"}, "key-1")
	requireCode(t, err, ims.ECONFLICT)

	// Without a key, the same message twice is two messages.
	one, err := b.c.CreateMessage(ctx, m, "")
	require.NoError(t, err)
	require.Empty(t, b.rec.last(t).Header.Values("Idempotency-Key"))
	two, err := b.c.CreateMessage(ctx, m, "")
	require.NoError(t, err)
	require.NotEqual(t, one.Message.ID, two.Message.ID)
}

func TestCreateMessageValidationDetails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.c.CreateMessage(context.Background(), client.NewMessage{PhoneNumber: "0555", Content: " "}, "")
	e := requireCode(t, err, ims.EINVALID)
	details, ok := e.Details.(map[string]string)
	require.True(t, ok, "validation details keep their server type, got %T", e.Details)
	require.Contains(t, details, "phone_number")
	require.Contains(t, details, "content")
	// ims's own helpers work on what the client returns.
	require.Equal(t, ims.EINVALID, ims.ErrorCode(err))
	require.Equal(t, details, ims.ErrorDetails(err))
}

func TestCreateBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	msgs := []client.NewMessage{
		{PhoneNumber: "+905551234567", Content: "one"},
		{PhoneNumber: "+905551234568", Content: "two"},
		{PhoneNumber: "+905551234569", Content: "three"},
	}
	res, err := b.c.CreateBatch(ctx, msgs, "batch-1")
	require.NoError(t, err)
	require.Equal(t, 3, res.Created)
	require.Len(t, res.Messages, 3)
	for i, m := range res.Messages {
		require.Equal(t, msgs[i].Content, m.Content, "answers keep the request's order")
		require.Equal(t, ims.StatusPending, m.Status)
	}

	again, err := b.c.CreateBatch(ctx, msgs, "batch-1")
	require.NoError(t, err)
	require.Zero(t, again.Created)
	require.Equal(t, res.Messages[2].ID, again.Messages[2].ID)

	_, err = b.c.CreateBatch(ctx, []client.NewMessage{msgs[0], {PhoneNumber: "nope", Content: "x"}}, "")
	e := requireCode(t, err, ims.EINVALID)
	require.Contains(t, e.Details, "messages[1].phone_number")

	_, err = b.c.CreateBatch(ctx, nil, "")
	e = requireCode(t, err, ims.EINVALID)
	require.Contains(t, e.Details, "messages")
}

// Do sends the caller's JSON as it is, with the client's headers, decodes
// only what out asks for, and turns other statuses into *ims.Error.
func TestDo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	body := `{"phone_number":"+905551234567","content":"built by hand"}`
	var created struct {
		ID string `json:"id"`
	}
	require.NoError(t, b.c.Do(ctx, http.MethodPost, "/api/messages", []byte(body), &created))
	r := b.rec.last(t)
	require.Equal(t, "Bearer "+apiKey, r.Header.Get("Authorization"))
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, int64(len(body)), r.ContentLength, "the body is sent as it is")
	detail, err := b.c.GetMessage(ctx, created.ID)
	require.NoError(t, err)
	require.Equal(t, "built by hand", detail.Message.Content)

	var page ims.MessagePage
	require.NoError(t, b.c.Do(ctx, http.MethodGet, "/api/messages?limit=1", nil, &page))
	require.Len(t, page.Messages, 1)
	require.NoError(t, b.c.Do(ctx, http.MethodPost, "/api/control", []byte(`{"action":"stop"}`), nil), "out nil drops the answer")
	st, err := b.c.ControlStatus(ctx)
	require.NoError(t, err)
	require.False(t, st.Running)

	err = b.c.Do(ctx, http.MethodPost, "/api/messages", []byte(`{"phone_number":"nope","content":"x"}`), &created)
	e := requireCode(t, err, ims.EINVALID)
	require.Contains(t, e.Details, "phone_number")
	requireCode(t, b.c.Do(ctx, http.MethodGet, "/api/messages/0195f0a4-7c3e-7000-8000-000000000000", nil, nil), ims.ENOTFOUND)
	require.ErrorContains(t, b.c.Do(ctx, http.MethodGet, "api/messages", nil, nil), "must start with /")
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const missing = "0195f0a4-7c3e-7000-8000-000000000000"
	_, err := b.c.GetMessage(ctx, missing)
	requireCode(t, err, ims.ENOTFOUND)
	_, err = b.c.CancelMessage(ctx, missing)
	requireCode(t, err, ims.ENOTFOUND)
	_, err = b.c.ReplayMessage(ctx, missing)
	requireCode(t, err, ims.ENOTFOUND)

	// Ids that are not message ids are escaped, never a way to another route.
	n := len(b.rec.all())
	for _, id := range []string{"../control", "a/b", "x?y", "%2e%2e"} {
		_, err = b.c.GetMessage(ctx, id)
		requireCode(t, err, ims.ENOTFOUND)
	}
	require.Len(t, b.rec.all(), n+4)
	for _, id := range []string{".", ".."} {
		_, err = b.c.GetMessage(ctx, id)
		requireCode(t, err, ims.ENOTFOUND)
	}
	_, err = b.c.CancelMessage(ctx, "")
	requireCode(t, err, ims.EINVALID)
	require.Len(t, b.rec.all(), n+4, "ids that cannot be sent are refused without a request")
}

func TestCancelMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.create(t, "cancel me")
	got, err := b.c.CancelMessage(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, ims.StatusCanceled, got.Status)
	require.Equal(t, http.MethodDelete, b.rec.last(t).Method)

	_, err = b.c.CancelMessage(ctx, m.ID)
	requireCode(t, err, ims.ECONFLICT)
}

func TestDeadLettersAndReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, s := range []string{"a", "b", "c"} {
		b.create(t, s)
	}
	require.Equal(t, 3, b.finishAll(t, ims.StatusDead, ims.DeliveryResult{StatusCode: 400, Response: "bad number"}))

	page, err := b.c.ListDeadLetters(ctx, client.MessageFilter{Status: ims.StatusSent}) // Status is ignored here
	require.NoError(t, err)
	require.Len(t, page.Messages, 3)
	for _, m := range page.Messages {
		require.Equal(t, ims.StatusDead, m.Status)
		require.Equal(t, "webhook answered HTTP 400", m.LastError)
	}
	require.Empty(t, b.rec.last(t).URL.Query().Get("status"))

	got, err := b.c.ReplayMessage(ctx, page.Messages[0].ID)
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, got.Status)
	_, err = b.c.ReplayMessage(ctx, page.Messages[0].ID)
	requireCode(t, err, ims.ECONFLICT)

	n, err := b.c.ReplayDeadLetters(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, "1", b.rec.last(t).URL.Query().Get("limit"))
	n, err = b.c.ReplayDeadLetters(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = b.c.ReplayDeadLetters(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = b.c.ReplayDeadLetters(ctx, 5000)
	requireCode(t, err, ims.EINVALID)
}

func TestListSent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.create(t, "sent")
	b.finishAll(t, ims.StatusSent, ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-9"})
	b.create(t, "still pending")

	page, err := b.c.ListSent(ctx, client.MessageFilter{})
	require.NoError(t, err)
	require.Len(t, page.Messages, 1)
	require.Equal(t, m.ID, page.Messages[0].ID)
	require.Equal(t, "prov-9", page.Messages[0].ProviderMessageID)
	require.Empty(t, page.NextCursor)
}

func TestListMessagesFilterAndPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var created []ims.Message
	for _, s := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		created = append(created, b.create(t, s))
	}
	_, err := b.c.CancelMessage(ctx, created[0].ID)
	require.NoError(t, err)

	page, err := b.c.ListMessages(ctx, client.MessageFilter{Limit: 3})
	require.NoError(t, err)
	require.Len(t, page.Messages, 3)
	require.Equal(t, created[6].ID, page.Messages[0].ID, "newest first")
	require.NotEmpty(t, page.NextCursor)
	next, err := b.c.ListMessages(ctx, client.MessageFilter{Limit: 3, Cursor: page.NextCursor})
	require.NoError(t, err)
	require.Equal(t, created[3].ID, next.Messages[0].ID)
	q := b.rec.last(t).URL.Query()
	require.Equal(t, "3", q.Get("limit"))
	require.Equal(t, page.NextCursor, q.Get("cursor"))

	canceled, err := b.c.ListMessages(ctx, client.MessageFilter{Status: ims.StatusCanceled})
	require.NoError(t, err)
	require.Len(t, canceled.Messages, 1)
	require.Equal(t, created[0].ID, canceled.Messages[0].ID)

	_, err = b.c.ListMessages(ctx, client.MessageFilter{Status: "lost"})
	e := requireCode(t, err, ims.EINVALID)
	require.Contains(t, e.Details, "status")
	_, err = b.c.ListMessages(ctx, client.MessageFilter{Cursor: "not-a-cursor"})
	requireCode(t, err, ims.EINVALID)
}

func TestAllMessagesFollowsCursors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var created []ims.Message
	for _, s := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		created = append(created, b.create(t, s))
	}
	before := len(b.rec.all())
	var got []string
	for m, err := range b.c.AllMessages(ctx, client.MessageFilter{Limit: 3}) {
		require.NoError(t, err)
		got = append(got, m.ID)
	}
	require.Len(t, got, 7)
	for i, id := range got {
		require.Equal(t, created[6-i].ID, id)
	}
	// 3 + 3 + 1: the short page ends the list without another request.
	require.Len(t, b.rec.all(), before+3)

	// Breaking out stops the fetching.
	before = len(b.rec.all())
	n := 0
	for _, err := range b.c.AllMessages(ctx, client.MessageFilter{Limit: 2}) {
		require.NoError(t, err)
		if n++; n == 3 {
			break
		}
	}
	require.Len(t, b.rec.all(), before+2)

	// Exactly one page: a full page has a cursor, the next page is empty.
	n = 0
	for _, err := range b.c.AllMessages(ctx, client.MessageFilter{Limit: 7}) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 7, n)

	// A failure is yielded once and ends the sequence.
	var errs []error
	for _, err := range b.c.AllMessages(ctx, client.MessageFilter{Status: "lost"}) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	requireCode(t, errs[0], ims.EINVALID)
}

func TestControl(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	st, err := b.c.ControlStatus(ctx)
	require.NoError(t, err)
	require.True(t, st.Running)
	require.Equal(t, 2*time.Minute, st.Interval)
	require.Equal(t, 2, st.BatchSize)
	require.Equal(t, "db", st.QueueMode)
	require.Equal(t, "test-1", st.Instance)

	st, err = b.c.Stop(ctx)
	require.NoError(t, err)
	require.False(t, st.Running)
	require.Contains(t, st.UpdatedBy, "api:")
	st, err = b.c.ControlStatus(ctx)
	require.NoError(t, err)
	require.False(t, st.Running)
	st, err = b.c.Start(ctx)
	require.NoError(t, err)
	require.True(t, st.Running)
	require.Equal(t, 2*time.Minute, st.Interval)
}

func TestAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	since := time.Now().Add(-time.Second)
	m1 := b.create(t, "one")
	b.create(t, "two")
	_, err := b.c.CancelMessage(ctx, m1.ID)
	require.NoError(t, err)
	_, err = b.c.Stop(ctx)
	require.NoError(t, err)

	page, err := b.c.ListAudit(ctx, client.AuditFilter{MessageID: m1.ID})
	require.NoError(t, err)
	var types []string
	for _, e := range page.Events {
		require.Equal(t, m1.ID, e.MessageID)
		require.NotZero(t, e.ID)
		require.NotEmpty(t, e.Actor)
		require.False(t, e.CreatedAt.IsZero())
		types = append(types, e.Type)
	}
	require.Equal(t, []string{ims.EventMessageCanceled, ims.EventMessageCreated}, types, "newest first")

	page, err = b.c.ListAudit(ctx, client.AuditFilter{Type: ims.EventSchedulerStopped})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)

	page, err = b.c.ListAudit(ctx, client.AuditFilter{Type: ims.EventMessageCreated, Since: since, Until: time.Now().Add(time.Second)})
	require.NoError(t, err)
	require.Len(t, page.Events, 2)
	q := b.rec.last(t).URL.Query()
	require.NotEmpty(t, q.Get("since"))
	require.NotEmpty(t, q.Get("until"))
	page, err = b.c.ListAudit(ctx, client.AuditFilter{Until: since})
	require.NoError(t, err)
	require.Empty(t, page.Events)
	require.NotNil(t, page.Events)

	var all []ims.AuditEvent
	for e, err := range b.c.AllAudit(ctx, client.AuditFilter{Limit: 2}) {
		require.NoError(t, err)
		all = append(all, e)
	}
	require.Len(t, all, 4)
	for i := 1; i < len(all); i++ {
		require.Greater(t, all[i-1].ID, all[i].ID)
	}

	_, err = b.c.ListAudit(ctx, client.AuditFilter{MessageID: "nope"})
	e := requireCode(t, err, ims.EINVALID)
	require.Contains(t, e.Details, "message_id")
	_, err = b.c.ListAudit(ctx, client.AuditFilter{Since: since, Until: since})
	requireCode(t, err, ims.EINVALID)
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	var cacheErr, queueErr error
	check := func(p *error) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			return "fine", *p
		}
	}
	set := func(p *error, err error) {
		mu.Lock()
		defer mu.Unlock()
		*p = err
	}
	// Each reading of the clock is two seconds on, so the server's one-second
	// health cache never answers twice: every call sees the checks anew.
	var ticks atomic.Int64
	b := setup(t, func(o *serverOptions) {
		o.clock = func() time.Time { return time.Unix(ticks.Add(2), 0) }
		o.health = append(o.health,
			imshttp.HealthCheck{Name: "cache", Check: check(&cacheErr)},
			imshttp.HealthCheck{Name: "queue", Required: true, Check: check(&queueErr)})
	})

	h, err := b.c.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, client.HealthOK, h.Status)
	require.Equal(t, "test", h.Version)
	require.Equal(t, client.Component{Status: "up", Required: true, Detail: "sqlite"}, h.Components["database"])

	set(&cacheErr, ims.Errorf(ims.EUNAVAILABLE, "redis unreachable"))
	h, err = b.c.Health(ctx)
	require.NoError(t, err, "degraded is still healthy")
	require.Equal(t, client.HealthDegraded, h.Status)
	require.Equal(t, "redis unreachable", h.Components["cache"].Error)

	set(&queueErr, ims.Errorf(ims.EUNAVAILABLE, "broker unreachable"))
	h, err = b.c.Health(ctx)
	e := requireCode(t, err, ims.EUNAVAILABLE)
	require.Equal(t, client.HealthDown, h.Status, "the report comes with the error")
	require.Equal(t, "service is down: cache, queue down", e.Message)
	require.Equal(t, map[string]string{"cache": "redis unreachable", "queue": "broker unreachable"}, e.Details)
}

func TestStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	st, err := b.c.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, fixedStats{}.Stats(), st, "every field survives the round trip, durations included")

	_, err = newClient(t, b.srv).Stats(context.Background())
	requireCode(t, err, ims.EUNAUTHORIZED)
}

func TestConsole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got, err := b.c.Console(context.Background())
	require.NoError(t, err)
	require.Equal(t, fixedStats{}.Stats(), got.Stats, "the overview survives the round trip, durations included")
	st := fixedStats{}.Stats()
	require.Equal(t, st.Counts[ims.StatusPending]+st.Counts[ims.StatusSending], got.Backlog)
	require.Equal(t, 5, got.Series.StepSeconds)
	require.Len(t, got.Series.Delivered, 180)
	require.Len(t, got.Series.LatencyP95, 180)
	require.True(t, time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC).Equal(got.Series.End))
	require.Len(t, got.Instances, 1)
	require.Equal(t, fixedStats{}.Instances().Instances[0], got.Instances[0].Instance, "every field survives the round trip")
	require.Empty(t, got.InstancesError)

	_, err = newClient(t, b.srv).Console(context.Background())
	requireCode(t, err, ims.EUNAUTHORIZED)
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc, err := newClient(t, b.srv).OpenAPI(context.Background())
	require.NoError(t, err)
	require.Contains(t, string(doc), `"openapi"`)
	require.Contains(t, string(doc), `"/api/messages/{id}/retry"`)
}

// fakeCache is a SentCache with canned answers.
type fakeCache struct {
	mu      sync.Mutex
	entries map[string]ims.SentCacheEntry
	err     error
}

func (f *fakeCache) put(e ims.SentCacheEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries[e.MessageID] = e
}

func (f *fakeCache) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeCache) Put(context.Context, []ims.SentCacheEntry) error { return nil }

func (f *fakeCache) Get(_ context.Context, id string) (ims.SentCacheEntry, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return ims.SentCacheEntry{}, false, f.err
	}
	e, ok := f.entries[id]
	return e, ok, nil
}

func (f *fakeCache) Ping(context.Context) error { return nil }
