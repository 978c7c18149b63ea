package scheduler

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a manual clock: time moves only when a test calls Advance,
// and After channels fire then. Tests never sleep to make time pass.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// fakeWebhook records calls and answers with a scripted result per phone
// number (200 when none is scripted). Each call is stamped from a sequence
// the test also draws from (mark), so "no call after X" is an ordering of
// events, not a wall-clock threshold.
type fakeWebhook struct {
	seq     atomic.Int64
	mu      sync.Mutex
	calls   []ims.Message
	stamps  []int64 // stamps[i] is calls[i]'s place in the sequence
	answers map[string]ims.DeliveryResult
	// all, when set, answers every phone number not in answers.
	all *ims.DeliveryResult
	// block, when set, makes Deliver wait until it is closed or ctx ends.
	block chan struct{}
	// beforeWrite, when set, runs as a call begins, before its request is
	// on the wire (recorded and stamped): a call held there has passed the
	// engine's last check but has not started.
	beforeWrite func()
	// beforeConn, when set, runs before the call has its connection (a
	// dial); false ends the call there, failed, as a cancelled dial does.
	beforeConn func(ctx context.Context) bool
}

func newFakeWebhook() *fakeWebhook {
	return &fakeWebhook{answers: map[string]ims.DeliveryResult{}}
}

func (w *fakeWebhook) answer(phone string, r ims.DeliveryResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answers[phone] = r
}

// answerAll scripts the answer for every phone number without its own.
func (w *fakeWebhook) answerAll(r ims.DeliveryResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = &r
}

func (w *fakeWebhook) Deliver(ctx context.Context, m ims.Message) ims.DeliveryResult {
	if w.beforeConn != nil && !w.beforeConn(ctx) {
		return ims.DeliveryResult{Err: "dial: context canceled"}
	}
	if w.beforeWrite != nil {
		w.beforeWrite()
	}
	w.mu.Lock()
	w.calls = append(w.calls, m)
	w.stamps = append(w.stamps, w.seq.Add(1))
	r, ok := w.answers[m.PhoneNumber]
	if !ok && w.all != nil {
		r, ok = *w.all, true
	}
	block := w.block
	w.mu.Unlock()
	requestSent(ctx)
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ims.DeliveryResult{Err: "context canceled"}
		}
	}
	if !ok {
		r = ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-" + m.ID}
	}
	return r
}

// requestSent tells the engine's call gate (stopgate.go) that the request
// is on the wire, as the webhook adapter does: the call has started.
func requestSent(ctx context.Context) {
	if sent := ims.RequestSentHook(ctx); sent != nil {
		sent()
	}
}

// mark takes the next number of the call sequence: calls stamped later
// started after mark returned.
func (w *fakeWebhook) mark() int64 { return w.seq.Add(1) }

// callsAfter returns the IDs of the messages whose call started after mark.
func (w *fakeWebhook) callsAfter(mark int64) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	for i, st := range w.stamps {
		if st > mark {
			ids = append(ids, w.calls[i].ID)
		}
	}
	return ids
}

func (w *fakeWebhook) callIDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, len(w.calls))
	for i, m := range w.calls {
		ids[i] = m.ID
	}
	return ids
}

type bundle struct {
	store *sqlite.Store
	hook  *fakeWebhook
	clock *fakeClock
	sched *Scheduler
	sig   *testSignals
}

// setup builds a scheduler on a fresh SQLite store driven by a fake clock.
// It does not start it; run does.
func setup(t *testing.T, cfg Config) *bundle {
	t.Helper()
	return setupWithQueue(t, cfg, nil)
}

// setupWithQueue is setup for RabbitMQ mode, with q standing in for the broker.
func setupWithQueue(t *testing.T, cfg Config, q ims.Queue) *bundle {
	t.Helper()
	return build(t, cfg, q, nil)
}

// build is setup with every option: q for RabbitMQ mode, and wrap (if not
// nil) to put a test double between the engine and the store.
func build(t *testing.T, cfg Config, q ims.Queue, wrap func(ims.Store) ims.Store) *bundle {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir()+"/ims.db")
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	clock := newFakeClock()
	store.Now = clock.Now
	require.NoError(t, store.Migrate(ctx))

	if cfg.Instance == "" {
		cfg.Instance = "test-1"
	}
	if cfg.Retry == (ims.RetryPolicy{}) {
		cfg.Retry = ims.RetryPolicy{MaxRetries: 2, BaseDelay: time.Second, MaxDelay: time.Minute}
	}
	cfg.PollInterval = time.Second
	// Leadership must not lapse when a test jumps the clock by whole intervals.
	cfg.LeaderTTL = 24 * time.Hour
	// A long lease: tests jump the clock while a claim may be waiting for
	// the database, and a claim computes its lease before it gets the lock.
	cfg.DeliveryTimeout = time.Minute
	hook := newFakeWebhook()
	var engineStore ims.Store = store
	if wrap != nil {
		engineStore = wrap(store)
	}
	sig := newTestSignals()
	s, err := New(cfg, Deps{Store: engineStore, Webhook: hook, Queue: q, Logger: testLogger(t), Clock: clock.Now, After: clock.After, Jitter: func() float64 { return 0 }, signals: sig})
	require.NoError(t, err)
	return &bundle{store: store, hook: hook, clock: clock, sched: s, sig: sig}
}

// run starts the scheduler and stops it (waiting for it) when the test ends.
func (b *bundle) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.sched.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func (b *bundle) create(t *testing.T, phones ...string) []string {
	t.Helper()
	var in []ims.NewMessage
	for _, p := range phones {
		in = append(in, ims.NewMessage{PhoneNumber: p, Content: "hi " + p})
	}
	res, err := b.store.CreateMessages(context.Background(), ims.WithActor("test", in))
	require.NoError(t, err)
	ids := make([]string, len(res))
	for i, r := range res {
		ids[i] = r.Message.ID
	}
	return ids
}

// waitStatus waits until the message reaches want; it polls the store (not
// the clock), so it never makes time pass.
func (b *bundle) waitStatus(t *testing.T, id string, want ims.Status) ims.Message {
	t.Helper()
	var m ims.Message
	require.Eventuallyf(t, func() bool {
		var err error
		m, err = b.store.GetMessage(context.Background(), id)
		require.NoError(t, err)
		return m.Status == want
	}, 10*time.Second, 5*time.Millisecond, "message %s never became %s (is %s)", id, want, m.Status)
	return m
}

func (b *bundle) count(t *testing.T, status ims.Status) int64 {
	t.Helper()
	c, err := b.store.CountByStatus(context.Background())
	require.NoError(t, err)
	return c[status]
}

// testLogger sends the engine's warnings to the test log, so a failure shows
// what the engine saw.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// next waits for the next report on ch (a testSignals channel).
func next[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
