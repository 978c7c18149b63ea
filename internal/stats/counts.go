// Package stats keeps the figures that unauthenticated or frequently polled
// endpoints (/metrics, /api/stats, /api/health) show, so that serving them
// costs no database work:
//
//   - Counts: messages per status, counted by one goroutine every few
//     seconds with a bounded query, whatever the number of readers.
//   - Outcomes: a sliding window of recent webhook attempts (health's
//     webhook component) and per-second rates over the last minute.
//   - FailureLog: retries and dead letters logged at warn, aggregated to at
//     most one line per reason per interval.
//
// Everything takes an injectable clock, so tests drive time.
package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
)

// Defaults for the zero values of CountsConfig.
const (
	DefaultRefresh      = 5 * time.Second
	DefaultQueryTimeout = 3 * time.Second
)

// Counter counts messages per status (ims.MessageStore does).
type Counter interface {
	CountByStatus(ctx context.Context) (map[ims.Status]int64, error)
}

// CountsConfig tunes Counts.
type CountsConfig struct {
	// Refresh is the time between two counts. Zero means DefaultRefresh.
	Refresh time.Duration
	// QueryTimeout bounds one count. Zero means half of Refresh, and at
	// least DefaultQueryTimeout; never more than Refresh. So a longer
	// Refresh gives a slow count (SQLite's counts its index: ~170 ms a
	// million messages) the time it needs at the same share of a core,
	// where a fixed 3 s cut every count of tens of millions short, forever.
	QueryTimeout time.Duration
	// Logger receives failed counts; nil discards them.
	Logger *slog.Logger
	// OnCount, when set, receives every successful count (e.g. the
	// console's backlog series samples it). It runs on Run's goroutine and
	// must be quick.
	OnCount func(counts map[ims.Status]int64)
	// Clock and After are injectable so tests drive time.
	Clock ims.Clock
	After func(d time.Duration) <-chan time.Time
}

func (c CountsConfig) withDefaults() CountsConfig {
	if c.Refresh <= 0 {
		c.Refresh = DefaultRefresh
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = max(DefaultQueryTimeout, c.Refresh/2)
	}
	c.QueryTimeout = min(c.QueryTimeout, c.Refresh)
	c.Logger = logging.OrDiscard(c.Logger)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	return c
}

// CountsSnapshot is the latest count.
type CountsSnapshot struct {
	// Counts has every status (zeros included) once a count succeeded, and
	// is nil before.
	Counts map[ims.Status]int64
	// RefreshedAt is when Counts was counted; zero before the first count.
	RefreshedAt time.Time
	// Err is the latest count's failure, nil when it succeeded. Counts then
	// still holds the previous good count.
	Err error
}

// ErrNotCounted is the snapshot's error before the first count finished.
var ErrNotCounted = errors.New("messages not counted yet")

// Counts caches the number of messages per status. Run refreshes it; readers
// only ever read memory. Readers get a copy they may keep.
type Counts struct {
	cfg CountsConfig
	src Counter

	mu   sync.Mutex
	snap CountsSnapshot
}

// NewCounts returns a cache over src; nothing is counted until Run or Refresh.
func NewCounts(src Counter, cfg CountsConfig) *Counts {
	return &Counts{cfg: cfg.withDefaults(), src: src, snap: CountsSnapshot{Err: ErrNotCounted}}
}

// Run counts at once and then every Refresh until ctx ends. It is the only
// caller of the store, so the count rate is one per Refresh per instance
// however many scrapes, dashboards or probes read the cache.
func (c *Counts) Run(ctx context.Context) {
	for {
		c.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-c.cfg.After(c.cfg.Refresh):
		}
	}
}

// Refresh counts once, within QueryTimeout, and stores the result.
func (c *Counts) Refresh(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, c.cfg.QueryTimeout)
	counts, err := c.src.CountByStatus(qctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: not a failure worth reporting
		}
		c.cfg.Logger.Warn("count messages by status", "err", err)
		c.mu.Lock()
		c.snap.Err = fmt.Errorf("count messages: %w", err)
		c.mu.Unlock()
		return
	}
	full := make(map[ims.Status]int64, len(ims.Statuses))
	for _, s := range ims.Statuses {
		full[s] = counts[s]
	}
	now := c.cfg.Clock()
	c.mu.Lock()
	c.snap = CountsSnapshot{Counts: full, RefreshedAt: now}
	c.mu.Unlock()
	if c.cfg.OnCount != nil {
		c.cfg.OnCount(maps.Clone(full))
	}
}

// Snapshot returns the latest count.
func (c *Counts) Snapshot() CountsSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snap
	s.Counts = maps.Clone(s.Counts)
	return s
}
