package redis

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/batch"
	"github.com/insiderone/ims/internal/logging"
)

// Defaults for AsyncConfig fields left zero.
const (
	DefaultAsyncBuffer        = 10000
	DefaultAsyncBatchSize     = 500
	DefaultAsyncFlushInterval = 20 * time.Millisecond
	DefaultAsyncLogEvery      = 10 * time.Second
)

// ErrAlreadyRunning is returned by a second concurrent AsyncWriter.Run.
var ErrAlreadyRunning = errors.New("sent-cache writer is already running")

// AsyncConfig configures an AsyncWriter. Zero fields take the defaults.
type AsyncConfig struct {
	// Buffer is how many entries may wait; beyond it Enqueue drops.
	Buffer int
	// BatchSize is the most entries one Put carries.
	BatchSize int
	// FlushInterval is the longest an entry waits for its batch to fill.
	FlushInterval time.Duration
	// Timeout bounds each Put (DefaultTimeout).
	Timeout time.Duration
	// LogEvery is the least time between two error lines during an outage.
	LogEvery time.Duration
	// Logger defaults to none (logging.OrDiscard), like every component's.
	Logger *slog.Logger
	// Now tells the time for log rate limiting; defaults to time.Now.
	Now ims.Clock
}

func (c AsyncConfig) withDefaults() AsyncConfig {
	if c.Buffer <= 0 {
		c.Buffer = DefaultAsyncBuffer
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultAsyncBatchSize
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultAsyncFlushInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.LogEvery <= 0 {
		c.LogEvery = DefaultAsyncLogEvery
	}
	c.Logger = logging.OrDiscard(c.Logger)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// AsyncStats counts entries by fate.
type AsyncStats struct {
	Written uint64 // stored by a successful Put
	Dropped uint64 // refused by Enqueue because the buffer was full
	Failed  uint64 // lost in a failed Put
}

// AsyncWriter writes sent-cache entries in the background, in batches, so
// that the delivery pipeline hands them over without ever waiting on Redis.
// A cache may miss, so when Redis is slow or down entries are dropped and
// counted rather than queued without bound.
type AsyncWriter struct {
	cache   ims.SentCache
	cfg     AsyncConfig
	queue   chan ims.SentCacheEntry
	running atomic.Bool

	written, dropped, failed atomic.Uint64

	// Owned by the Run goroutine.
	errLog, dropLog logLimiter
	lastDropped     uint64
}

// NewAsyncWriter builds a writer for cache; start it with Run.
func NewAsyncWriter(cache ims.SentCache, cfg AsyncConfig) *AsyncWriter {
	cfg = cfg.withDefaults()
	return &AsyncWriter{
		cache:   cache,
		cfg:     cfg,
		queue:   make(chan ims.SentCacheEntry, cfg.Buffer),
		errLog:  logLimiter{every: cfg.LogEvery},
		dropLog: logLimiter{every: cfg.LogEvery},
	}
}

// Enqueue hands entries over without blocking; those that do not fit in the
// buffer are dropped and counted.
func (w *AsyncWriter) Enqueue(entries ...ims.SentCacheEntry) {
	for _, e := range entries {
		select {
		case w.queue <- e:
		default:
			w.dropped.Add(1)
		}
	}
}

// Stats returns the counts so far.
func (w *AsyncWriter) Stats() AsyncStats {
	return AsyncStats{Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failed.Load()}
}

// Run writes batches until ctx ends, then flushes what is buffered (stopping
// at the first failure, so a shutdown during an outage stays short) and
// returns nil.
func (w *AsyncWriter) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer w.running.Store(false)

	// Puts are bounded by Timeout, not by ctx: the batch in hand when ctx
	// ends is still worth writing, and shutdown waits at most one Timeout
	// per batch for it. A failed Put ends the drain (internal/batch's rule),
	// so a shutdown during an outage stays short.
	putCtx := context.WithoutCancel(ctx)
	batch.Run(ctx, w.queue, batch.Options{Max: w.cfg.BatchSize, Linger: w.cfg.FlushInterval},
		func(b []ims.SentCacheEntry) error { return w.flush(putCtx, b) })
	return nil
}

// flush writes one batch; the error is the failed Put's.
func (w *AsyncWriter) flush(ctx context.Context, batch []ims.SentCacheEntry) error {
	w.logDrops()
	putCtx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	if err := w.cache.Put(putCtx, batch); err != nil {
		w.failed.Add(uint64(len(batch)))
		if suppressed, ok := w.errLog.allow(w.cfg.Now()); ok {
			w.cfg.Logger.Warn("sent-cache write failed; entries lost",
				"entries", len(batch), "failed_total", w.failed.Load(),
				"similar_errors_suppressed", suppressed, "error", err)
		}
		return err
	}
	w.written.Add(uint64(len(batch)))
	if w.errLog.reset() {
		w.cfg.Logger.Info("sent-cache writes recovered", "failed_total", w.failed.Load())
	}
	return nil
}

// logDrops reports entries Enqueue dropped since the last report; the drop
// itself must stay cheap, so the writer logs on its behalf.
func (w *AsyncWriter) logDrops() {
	dropped := w.dropped.Load()
	if dropped == w.lastDropped {
		return
	}
	if _, ok := w.dropLog.allow(w.cfg.Now()); ok {
		w.cfg.Logger.Warn("sent-cache buffer full; entries dropped",
			"dropped", dropped-w.lastDropped, "dropped_total", dropped)
		w.lastDropped = dropped
	}
}

// logLimiter lets one log line through per interval, so an outage yields a
// line every few seconds instead of one per batch.
type logLimiter struct {
	every      time.Duration
	last       time.Time
	suppressed int
	failing    bool
}

// allow reports whether to log now and how many lines were suppressed since
// the last one.
func (l *logLimiter) allow(now time.Time) (suppressed int, ok bool) {
	l.failing = true
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return 0, false
	}
	suppressed, l.suppressed, l.last = l.suppressed, 0, now
	return suppressed, true
}

// reset ends an episode of failures and reports whether there was one.
// The next failure logs at once.
func (l *logLimiter) reset() bool {
	was := l.failing
	l.failing, l.last, l.suppressed = false, time.Time{}, 0
	return was
}
