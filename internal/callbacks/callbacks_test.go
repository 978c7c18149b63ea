package callbacks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/callbacks"
	"github.com/insiderone/ims/internal/storetest"
	"github.com/insiderone/ims/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiver answers status codes[i] to call i (200 once they run out) and
// keeps every call.
type receiver struct {
	mu    sync.Mutex
	codes []int
	calls []call
}

type call struct {
	header http.Header
	body   []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	code := http.StatusOK
	if n := len(rc.calls); n < len(rc.codes) {
		code = rc.codes[n]
	}
	rc.calls = append(rc.calls, call{header: r.Header.Clone(), body: body})
	w.WriteHeader(code)
}

func (rc *receiver) got() []call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]call(nil), rc.calls...)
}

type bundle struct {
	store *sqlite.Store
	clock *storetest.Clock
	disp  *callbacks.Dispatcher
	rc    *receiver
	obs   *observer
}

type observer struct {
	mu      sync.Mutex
	results []string
	purged  int
}

func (o *observer) CallbackDone(r string) {
	o.mu.Lock()
	o.results = append(o.results, r)
	o.mu.Unlock()
}
func (o *observer) ParkedReportsPurged(n int) {
	o.mu.Lock()
	o.purged += n
	o.mu.Unlock()
}

const rawKey = "0123456789abcdef0123456789abcdef"

func setup(t *testing.T, codes []int, maxRetries int) *bundle {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ims.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	clock := storetest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	store.Now = clock.Now
	require.NoError(t, store.Migrate(ctx))
	_, err = store.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)

	rc := &receiver{codes: codes}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	require.NoError(t, store.SetStatusCallbackURL(ctx, srv.URL+"/cb?token=secret"))

	sender, err := callbacks.NewHTTPSender("whsec_"+base64.StdEncoding.EncodeToString([]byte(rawKey)), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(sender.Close)
	obs := &observer{}
	disp, err := callbacks.New(callbacks.Config{
		Retry:   ims.RetryPolicy{MaxRetries: maxRetries, BaseDelay: time.Second, MaxDelay: time.Minute},
		ParkTTL: time.Hour, Actor: "callbacks:test",
	}, callbacks.Deps{Store: store, Sender: sender, Observer: obs, Clock: clock.Now, Jitter: func() float64 { return 0.999 }})
	require.NoError(t, err)
	return &bundle{store: store, clock: clock, disp: disp, rc: rc, obs: obs}
}

// sent stores a message and records its delivery, which writes its callback.
func (b *bundle) sent(t *testing.T) ims.Message {
	t.Helper()
	ctx := t.Context()
	res, err := b.store.CreateMessages(ctx, []ims.NewMessage{{PhoneNumber: "+905551234567", Content: "hi", Actor: "test"}})
	require.NoError(t, err)
	claimed, err := b.store.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Minute, Actor: "test"})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.NoError(t, b.store.RecordOutcomes(ctx, []ims.Outcome{{Claim: claimed[0].Claim(), At: b.clock.Now(),
		Result:   ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "p-" + claimed[0].ID},
		Decision: ims.Decision{Status: ims.StatusSent, Reason: "delivered"}}}, "test"))
	return res[0].Message
}

func verify(t *testing.T, c call) ims.CallbackPayload {
	t.Helper()
	id, ts := c.header.Get("webhook-id"), c.header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, []byte(rawKey))
	mac.Write([]byte(id + "." + ts + "." + string(c.body)))
	require.Equal(t, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)), c.header.Get("webhook-signature"))
	require.Equal(t, "application/json", c.header.Get("Content-Type"))
	var p ims.CallbackPayload
	require.NoError(t, json.Unmarshal(c.body, &p))
	return p
}

func TestDispatcherRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	b := setup(t, []int{500, 503}, 3)
	m := b.sent(t)
	ctx := t.Context()

	require.Equal(t, 1, b.disp.RunOnce(ctx))
	require.Zero(t, b.disp.RunOnce(ctx), "the retry waits for its backoff")
	detail, degraded := b.disp.Status().Health()
	require.True(t, degraded)
	require.Contains(t, detail, "HTTP 500")
	b.clock.Advance(time.Second)
	require.Equal(t, 1, b.disp.RunOnce(ctx))
	b.clock.Advance(2 * time.Second)
	require.Equal(t, 1, b.disp.RunOnce(ctx))

	calls := b.rc.got()
	require.Len(t, calls, 3)
	for _, c := range calls {
		p := verify(t, c)
		require.Equal(t, m.ID, p.MessageID)
		require.Equal(t, ims.StatusSent, p.Status)
		require.Equal(t, "p-"+m.ID, p.ProviderMessageID)
		require.Equal(t, calls[0].header.Get("webhook-id"), c.header.Get("webhook-id"), "the id is stable across retries")
	}
	require.Equal(t, []string{"retry", "retry", "delivered"}, b.obs.results)
	_, degraded = b.disp.Status().Health()
	require.False(t, degraded)
	counts, err := b.store.CountCallbacks(ctx)
	require.NoError(t, err)
	require.Equal(t, map[ims.CallbackState]int64{ims.CallbackPending: 0, ims.CallbackFailed: 0}, counts, "delivered")
}

func TestDispatcherGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t, []int{500, 500, 500}, 1)
	m := b.sent(t)
	ctx := t.Context()
	require.Equal(t, 1, b.disp.RunOnce(ctx))
	b.clock.Advance(time.Second)
	require.Equal(t, 1, b.disp.RunOnce(ctx))
	b.clock.Advance(time.Hour)
	require.Zero(t, b.disp.RunOnce(ctx), "given up: never again")
	require.Len(t, b.rc.got(), 2)
	require.Equal(t, []string{"retry", "given_up"}, b.obs.results)
	page, err := b.store.ListAudit(ctx, ims.AuditFilter{MessageID: m.ID, Type: ims.EventCallbackGivenUp, Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	require.NotContains(t, page.Events[0].Details, "token=secret", "the URL's query is not written")
	require.Equal(t, "callbacks:test", page.Events[0].Actor)
}

func TestDispatcherRunPurgesParkedReports(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, 1)
	ctx, cancel := context.WithCancel(t.Context())
	_, err := b.store.RecordDeliveryReports(ctx, []ims.DeliveryReport{{ProviderMessageID: "nobody",
		Status: ims.DeliveryDelivered, Reported: "delivered", At: b.clock.Now(), ReceivedAt: b.clock.Now()}}, "test")
	require.NoError(t, err)
	b.clock.Advance(2 * time.Hour)
	done := make(chan struct{})
	go func() { defer close(done); b.disp.Run(ctx) }()
	require.Eventually(t, func() bool {
		b.obs.mu.Lock()
		defer b.obs.mu.Unlock()
		return b.obs.purged == 1
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	<-done
}

// TestDispatcherShutdownLeavesCallsToTheirLease: a call in flight when Run's
// context ends is cut short, not recorded as a failure: the row stays
// pending with its attempt, for the lease to bring back.
func TestDispatcherShutdownLeavesCallsToTheirLease(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, 3)
	started, stop := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		once.Do(func() { close(started) })
		select { // answer only once the test is over
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // before srv.Close: cleanups run last first
	require.NoError(t, b.store.SetStatusCallbackURL(t.Context(), srv.URL))
	b.sent(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); b.disp.Run(ctx) }()
	<-started
	cancel()
	<-done
	require.Empty(t, b.obs.results, "nothing recorded")
	counts, err := b.store.CountCallbacks(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(1), counts[ims.CallbackPending])
}
