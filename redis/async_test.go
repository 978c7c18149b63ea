package redis

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// recordingCache stores what it is given and announces each Put.
type recordingCache struct {
	mu      sync.Mutex
	entries []ims.SentCacheEntry
	err     error
	puts    chan int // receives the size of each Put, if not nil
}

func (c *recordingCache) Put(_ context.Context, es []ims.SentCacheEntry) error {
	c.mu.Lock()
	err := c.err
	if err == nil {
		c.entries = append(c.entries, es...)
	}
	c.mu.Unlock()
	if c.puts != nil {
		c.puts <- len(es)
	}
	return err
}

func (c *recordingCache) setErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

func (c *recordingCache) stored() []ims.SentCacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ims.SentCacheEntry(nil), c.entries...)
}

func (*recordingCache) Get(context.Context, string) (ims.SentCacheEntry, bool, error) {
	return ims.SentCacheEntry{}, false, nil
}

func (*recordingCache) Ping(context.Context) error { return nil }

// blockingCache holds every Put until released, like a hung Redis.
type blockingCache struct {
	recordingCache
	started chan struct{} // receives once the first Put is in progress
	release chan struct{}
}

func newBlockingCache() *blockingCache {
	return &blockingCache{started: make(chan struct{}, 1), release: make(chan struct{})}
}

func (c *blockingCache) Put(ctx context.Context, es []ims.SentCacheEntry) error {
	select {
	case c.started <- struct{}{}:
	default:
	}
	select {
	case <-c.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.recordingCache.Put(ctx, es)
}

// runWriter starts w.Run and returns a stop function that cancels it and
// waits for it to return.
func runWriter(t *testing.T, w *AsyncWriter) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return stop
}

// discard is a logger for tests that do not look at logs.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestAsyncWriterWritesToRedis(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	w := NewAsyncWriter(b.cache, AsyncConfig{BatchSize: 100, Logger: discard()})
	stop := runWriter(t, w)

	es := entries(1050, "async")
	w.Enqueue(es...)
	stop() // Run flushes what is buffered before it returns

	require.Equal(t, AsyncStats{Written: 1050}, w.Stats())
	n, err := b.raw.Exists(context.Background(), keysOf(b.prefix, es)...).Result()
	require.NoError(t, err)
	require.EqualValues(t, len(es), n)
}

func TestAsyncWriterBatches(t *testing.T) {
	t.Parallel()
	cache := &recordingCache{puts: make(chan int, 100)}
	// A flush interval far beyond the test proves that full batches go at once.
	w := NewAsyncWriter(cache, AsyncConfig{BatchSize: 5, FlushInterval: time.Hour, Logger: discard()})
	stop := runWriter(t, w)

	w.Enqueue(entries(10, "full")...)
	require.Equal(t, 5, <-cache.puts)
	require.Equal(t, 5, <-cache.puts)
	stop()
	require.Equal(t, entries(10, "full"), cache.stored())
}

func TestAsyncWriterFlushesPartialBatch(t *testing.T) {
	t.Parallel()
	cache := &recordingCache{puts: make(chan int, 100)}
	w := NewAsyncWriter(cache, AsyncConfig{BatchSize: 500, FlushInterval: time.Millisecond, Logger: discard()})
	runWriter(t, w)

	w.Enqueue(entries(3, "partial")...)
	got := 0
	for got < 3 {
		got += <-cache.puts // arrives once the flush interval has passed
	}
	require.Equal(t, entries(3, "partial"), cache.stored())
}

// TestAsyncWriterNeverBlocks hands entries over while the cache hangs: every
// Enqueue returns, what does not fit in the buffer is dropped and counted.
func TestAsyncWriterNeverBlocks(t *testing.T) {
	t.Parallel()
	cache := newBlockingCache()
	w := NewAsyncWriter(cache, AsyncConfig{Buffer: 10, BatchSize: 1, Timeout: time.Hour, Logger: discard()})
	stop := runWriter(t, w)

	w.Enqueue(entries(1, "first")...)
	<-cache.started // the writer is now stuck in Put with that one entry
	w.Enqueue(entries(15, "more")...)
	require.Equal(t, AsyncStats{Dropped: 5}, w.Stats())

	t.Run("a second Run is refused", func(t *testing.T) {
		require.ErrorIs(t, w.Run(context.Background()), ErrAlreadyRunning)
	})

	close(cache.release)
	stop()
	require.Equal(t, AsyncStats{Written: 11, Dropped: 5}, w.Stats())
	require.Equal(t, append(entries(1, "first"), entries(10, "more")...), cache.stored())
}

func TestAsyncWriterDrainStopsAtFirstFailure(t *testing.T) {
	t.Parallel()
	cache := &recordingCache{err: errors.New("redis down")}
	w := NewAsyncWriter(cache, AsyncConfig{BatchSize: 2, Logger: discard()})
	w.Enqueue(entries(6, "drain")...)

	drainNow(t, w)

	require.Equal(t, AsyncStats{Failed: 2}, w.Stats())
	require.Len(t, w.queue, 4, "a shutdown during an outage must not try every batch")
}

// drainNow runs w with a context that has already ended: Run only drains.
func drainNow(t *testing.T, w *AsyncWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, w.Run(ctx))
}

// TestAsyncWriterLogsOutageOnce checks that an outage logs one line per
// LogEvery, not one per batch, and that the recovery is logged.
func TestAsyncWriterLogsOutageOnce(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cache := &recordingCache{err: errors.New("redis down")}
	w := NewAsyncWriter(cache, AsyncConfig{
		LogEvery: 10 * time.Second,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Now:      func() time.Time { return now },
	})
	ctx := context.Background()
	batch := entries(2, "log")

	for range 5 {
		_ = w.flush(ctx, batch)
	}
	now = now.Add(10 * time.Second)
	_ = w.flush(ctx, batch)
	cache.setErr(nil)
	_ = w.flush(ctx, batch)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 3, logs.String())
	require.Contains(t, lines[0], "sent-cache write failed")
	require.Contains(t, lines[0], "similar_errors_suppressed=0")
	require.Contains(t, lines[1], "similar_errors_suppressed=4")
	require.Contains(t, lines[2], "sent-cache writes recovered")
	require.Equal(t, AsyncStats{Written: 2, Failed: 12}, w.Stats())
}

func TestAsyncWriterLogsDrops(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	cache := &recordingCache{}
	w := NewAsyncWriter(cache, AsyncConfig{Buffer: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w.Enqueue(entries(4, "drop")...)

	drainNow(t, w)

	require.Contains(t, logs.String(), "entries dropped")
	require.Contains(t, logs.String(), "dropped=3")
	require.Equal(t, AsyncStats{Written: 1, Dropped: 3}, w.Stats())
}

func TestLogLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at             time.Duration // since t0
		reset          bool
		wantOK         bool
		wantSuppressed int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "first always logs", steps: []step{{at: 0, wantOK: true}}},
		{name: "within the interval is suppressed", steps: []step{
			{at: 0, wantOK: true}, {at: time.Second}, {at: 9 * time.Second},
			{at: 10 * time.Second, wantOK: true, wantSuppressed: 2},
		}},
		{name: "a reset logs the next failure at once", steps: []step{
			{at: 0, wantOK: true}, {at: time.Second, reset: true}, {at: 2 * time.Second, wantOK: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := logLimiter{every: 10 * time.Second}
			for i, s := range tt.steps {
				if s.reset {
					require.True(t, l.reset(), "step %d", i)
					continue
				}
				suppressed, ok := l.allow(t0.Add(s.at))
				require.Equal(t, s.wantOK, ok, "step %d", i)
				require.Equal(t, s.wantSuppressed, suppressed, "step %d", i)
			}
		})
	}
}

// Never called: it only makes the compiler check that go-redis accepts a
// *LibraryLogger, without touching go-redis's global logger in tests.
var _ = func() { goredis.SetLogger(&LibraryLogger{}) }

func TestLibraryLoggerRateLimits(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLibraryLogger(slog.New(slog.NewTextHandler(&logs, nil)), 10*time.Second)
	l.now = func() time.Time { return now }
	ctx := context.Background()

	for i := range 3 {
		l.Printf(ctx, "redis: dial failed %d", i)
	}
	now = now.Add(10 * time.Second)
	l.Printf(ctx, "redis: dial failed %d", 3)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2, logs.String())
	require.Contains(t, lines[0], "redis: dial failed 0")
	require.Contains(t, lines[1], "redis: dial failed 3")
	require.Contains(t, lines[1], "similar_lines_suppressed=2")
}
