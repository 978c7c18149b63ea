package retention

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeClock only moves when the test advances it; After channels fire then.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
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
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
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

// row is a message or audit event of the fake store, by the time its age
// counts from.
type row struct {
	kind string // KindSent, KindCanceled, KindDead, KindAudit, or "pending"
	at   time.Time
}

// call is one delete statement the service issued.
type call struct {
	kind  string
	cut   time.Time
	limit int
}

// fakeStore keeps rows in memory and deletes them like the real stores do:
// oldest first, at most limit per call.
type fakeStore struct {
	mu      sync.Mutex
	rows    []row
	calls   []call
	events  []ims.AuditEvent
	fail    map[string]error // kind → error of its delete
	written chan struct{}    // receives after each AppendAudit
}

func newFakeStore(rows ...row) *fakeStore {
	return &fakeStore{rows: append([]row(nil), rows...), fail: map[string]error{}, written: make(chan struct{}, 10)}
}

func (s *fakeStore) purge(kind string, cut time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call{kind, cut, limit})
	if err := s.fail[kind]; err != nil {
		return 0, err
	}
	sort.SliceStable(s.rows, func(i, j int) bool { return s.rows[i].at.Before(s.rows[j].at) })
	kept, n := s.rows[:0], 0
	for _, r := range s.rows {
		if r.kind == kind && r.at.Before(cut) && n < limit {
			n++
			continue
		}
		kept = append(kept, r)
	}
	s.rows = kept
	return n, nil
}

func (s *fakeStore) PurgeMessages(_ context.Context, st ims.Status, cut time.Time, limit int) (int, error) {
	if !ims.Purgeable(st) {
		return 0, ims.Errorf(ims.EINVALID, "not purgeable")
	}
	return s.purge(string(st), cut, limit)
}

func (s *fakeStore) PurgeAudit(_ context.Context, cut time.Time, limit int) (int, error) {
	return s.purge(KindAudit, cut, limit)
}

func (s *fakeStore) AppendAudit(_ context.Context, events []ims.AuditEvent) error {
	s.mu.Lock()
	s.events = append(s.events, events...)
	s.mu.Unlock()
	s.written <- struct{}{}
	return nil
}

func (s *fakeStore) left() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, r := range s.rows {
		out[r.kind]++
	}
	return out
}

type countingObserver struct {
	mu     sync.Mutex
	counts map[string]int
}

func (o *countingObserver) Purged(kind string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counts[kind] += n
}

// rowsAt returns n rows of kind aged from at.
func rowsAt(kind string, n int, at time.Time) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = row{kind: kind, at: at.Add(time.Duration(i) * time.Second)}
	}
	return out
}

func concat(parts ...[]row) []row {
	var out []row
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

type bundle struct {
	store *fakeStore
	clock *fakeClock
	obs   *countingObserver
	svc   *Service
}

func setup(t *testing.T, cfg Config, isLeader func() bool, rows ...row) *bundle {
	t.Helper()
	b := &bundle{store: newFakeStore(rows...), clock: &fakeClock{now: start}, obs: &countingObserver{counts: map[string]int{}}}
	if isLeader == nil {
		isLeader = func() bool { return true }
	}
	svc, err := New(cfg, Deps{Store: b.store, IsLeader: isLeader, Observer: b.obs, Clock: b.clock.Now, After: b.clock.After})
	require.NoError(t, err)
	b.svc = svc
	return b
}

func details(t *testing.T, e ims.AuditEvent) map[string]int {
	t.Helper()
	var d map[string]int
	require.NoError(t, json.Unmarshal([]byte(e.Details), &d), "details must be JSON counts: %q", e.Details)
	return d
}

func TestRunOncePurgesWhatExpired(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	old := start.Add(-100 * day) // older than every retention below
	recent := start.Add(-time.Hour)
	rows := concat(
		rowsAt(KindSent, 5, old), rowsAt(KindSent, 2, recent),
		rowsAt(KindCanceled, 1, old),
		rowsAt(KindDead, 3, old), rowsAt(KindDead, 1, recent),
		rowsAt(KindExpired, 2, old), rowsAt(KindExpired, 1, recent),
		rowsAt(KindAudit, 4, old), rowsAt(KindAudit, 1, recent),
		rowsAt("pending", 2, old),
	)
	tests := []struct {
		name      string
		cfg       Config
		want      Counts
		wantLeft  map[string]int
		wantEvent bool
	}{
		{
			name:      "every kind, in batches of two",
			cfg:       Config{Sent: 30 * day, Dead: 90 * day, Audit: 90 * day, BatchSize: 2},
			want:      Counts{KindSent: 5, KindCanceled: 1, KindDead: 3, KindExpired: 2, KindAudit: 4},
			wantLeft:  map[string]int{KindSent: 2, KindDead: 1, KindExpired: 1, KindAudit: 1, "pending": 2},
			wantEvent: true,
		},
		{
			name:      "0 keeps a kind forever",
			cfg:       Config{Sent: 0, Dead: 90 * day, Audit: 0, BatchSize: 1000},
			want:      Counts{KindDead: 3, KindExpired: 2},
			wantLeft:  map[string]int{KindSent: 7, KindCanceled: 1, KindDead: 1, KindExpired: 1, KindAudit: 5, "pending": 2},
			wantEvent: true,
		},
		{
			name:     "retentions longer than every age purge nothing and write no event",
			cfg:      Config{Sent: 1000 * day, Dead: 1000 * day, Audit: 1000 * day},
			want:     Counts{},
			wantLeft: map[string]int{KindSent: 7, KindCanceled: 1, KindDead: 4, KindExpired: 3, KindAudit: 5, "pending": 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.cfg, nil, rows...)
			got, err := b.svc.RunOnce(context.Background())
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.wantLeft, b.store.left())
			require.Equal(t, map[string]int(tc.want), b.obs.counts, "the metric counts what was purged")
			for _, c := range b.store.calls {
				require.LessOrEqual(t, c.limit, max(tc.cfg.BatchSize, 1000), "no delete is larger than a batch")
				keep := map[string]time.Duration{KindSent: tc.cfg.Sent, KindCanceled: tc.cfg.Sent, KindDead: tc.cfg.Dead,
					KindExpired: tc.cfg.Dead, KindAudit: tc.cfg.Audit}[c.kind]
				require.Equal(t, start.Add(-keep), c.cut, "the cut of %s is now minus its retention", c.kind)
			}
			if !tc.wantEvent {
				require.Empty(t, b.store.events)
				return
			}
			require.Len(t, b.store.events, 1, "one audit event per run")
			e := b.store.events[0]
			require.Equal(t, ims.EventRetentionPurged, e.Type)
			require.Equal(t, "retention", e.Actor)
			want := map[string]int{KindSent: 0, KindCanceled: 0, KindDead: 0, KindExpired: 0, KindAudit: 0}
			for k, v := range tc.want {
				want[k] = v
			}
			require.Equal(t, want, details(t, e))
		})
	}
}

func TestRunOnceBatchesUntilDrained(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Sent: time.Hour, BatchSize: 2}, nil, rowsAt(KindSent, 5, start.Add(-2*time.Hour))...)
	_, err := b.svc.RunOnce(context.Background())
	require.NoError(t, err)
	batches := 0
	for _, c := range b.store.calls {
		if c.kind == KindSent {
			require.Equal(t, 2, c.limit)
			batches++
		}
	}
	require.Equal(t, 3, batches, "2 + 2 + 1: the short batch ends the kind")
}

func TestRunOnceKeepsGoingPastAFailingKind(t *testing.T) {
	t.Parallel()
	old := start.Add(-48 * time.Hour)
	b := setup(t, Config{Sent: time.Hour, Dead: time.Hour, Audit: time.Hour}, nil,
		concat(rowsAt(KindSent, 1, old), rowsAt(KindDead, 2, old), rowsAt(KindAudit, 1, old))...)
	b.store.fail[KindSent] = errors.New("disk on fire")
	got, err := b.svc.RunOnce(context.Background())
	require.ErrorContains(t, err, "disk on fire")
	require.Equal(t, Counts{KindDead: 2, KindAudit: 1}, got)
	require.Len(t, b.store.events, 1, "what was purged is recorded even when a kind failed")
	require.Equal(t, 2, details(t, b.store.events[0])[KindDead])
}

func TestRunPurgesOnlyOnTheLeader(t *testing.T) {
	t.Parallel()
	asked := make(chan bool, 10)
	var mu sync.Mutex
	leader := false
	isLeader := func() bool {
		mu.Lock()
		defer mu.Unlock()
		asked <- leader
		return leader
	}
	b := setup(t, Config{Sent: time.Hour, Every: time.Minute}, isLeader, rowsAt(KindSent, 3, start.Add(-2*time.Hour))...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.svc.Run(ctx) }()

	advanceUntil(t, b.clock, asked) // the first tick: not the leader
	require.Empty(t, b.store.calls, "a follower purges nothing")

	mu.Lock()
	leader = true
	mu.Unlock()
	advanceUntil(t, b.clock, asked)
	select {
	case <-b.store.written:
	case <-time.After(10 * time.Second):
		t.Fatal("the leader never recorded a purge")
	}
	require.Equal(t, map[string]int{}, b.store.left())
	cancel()
	<-done
}

func TestRunDisabledReturnsAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, nil)
	require.False(t, b.svc.Enabled())
	b.svc.Run(context.Background()) // returns without waiting for ctx
}

// advanceUntil moves the clock a tick at a time until the loop asks whether
// it leads (it registers its timer concurrently, so one Advance may be early).
func advanceUntil(t *testing.T, c *fakeClock, asked <-chan bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.Advance(time.Minute)
		select {
		case <-asked:
			return
		case <-deadline:
			t.Fatal("the retention loop never ticked")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	leader := func() bool { return true }
	tests := []struct {
		name    string
		cfg     Config
		deps    Deps
		wantErr string
	}{
		{"negative retention", Config{Sent: -time.Hour}, Deps{Store: store, IsLeader: leader}, "must not be negative"},
		{"negative batch", Config{BatchSize: -1}, Deps{Store: store, IsLeader: leader}, "must not be negative"},
		{"no store", Config{}, Deps{IsLeader: leader}, "Store and IsLeader are required"},
		{"no leadership", Config{}, Deps{Store: store}, "Store and IsLeader are required"},
		{"defaults", Config{}, Deps{Store: store, IsLeader: leader}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(tc.cfg, tc.deps)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, time.Minute, s.cfg.Every)
			require.Equal(t, 1000, s.cfg.BatchSize)
			require.Equal(t, "retention", s.cfg.Actor)
		})
	}
}
