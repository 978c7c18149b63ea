package stats

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
)

// DefaultFailureLogInterval is FailureLogConfig.Interval's default.
const DefaultFailureLogInterval = 10 * time.Second

// FailureLogConfig tunes FailureLog.
type FailureLogConfig struct {
	// Interval is the least time between two lines of one reason. Zero means
	// DefaultFailureLogInterval.
	Interval time.Duration
	Logger   *slog.Logger
	// Clock and After are injectable so tests drive time.
	Clock ims.Clock
	After func(d time.Duration) <-chan time.Time
}

func (c FailureLogConfig) withDefaults() FailureLogConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultFailureLogInterval
	}
	c.Logger = logging.OrDiscard(c.Logger)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	return c
}

// failureKey is what one log line sums up: an outcome (retry or dead) and a
// Reason.
type failureKey struct {
	outcome ims.Status
	reason  string
}

// failureGroup is the failures of one key since its last line.
type failureGroup struct {
	count    int
	example  ims.Outcome
	lastEmit time.Time
}

// FailureLog logs failed webhook attempts (retries and dead letters) at warn,
// so that a broken webhook shows at the default log level, without letting a
// storm flood the log: the first failure of a reason is logged at once, the
// following ones are counted and logged as one line per reason per Interval
// with the count and an example message id. Lines carry the redacted error
// text of webhook.Client, never a key.
type FailureLog struct {
	cfg FailureLogConfig

	mu     sync.Mutex
	groups map[failureKey]*failureGroup
}

// NewFailureLog returns an aggregator; Run flushes it.
func NewFailureLog(cfg FailureLogConfig) *FailureLog {
	return &FailureLog{cfg: cfg.withDefaults(), groups: map[failureKey]*failureGroup{}}
}

// line is one log line to write, built under the lock and written outside it.
type line struct {
	key   failureKey
	count int
	ex    ims.Outcome
}

// Observe counts out if it failed, logging at once when its reason has had
// no line for an Interval.
func (f *FailureLog) Observe(out ims.Outcome) {
	if out.Result.Succeeded() {
		return
	}
	key := failureKey{outcome: out.Decision.Status, reason: Reason(out.Result)}
	now := f.cfg.Clock()
	f.mu.Lock()
	g, seen := f.groups[key]
	if !seen {
		g = &failureGroup{}
		f.groups[key] = g
	}
	g.count++
	g.example = out
	var emit *line
	if !seen || now.Sub(g.lastEmit) >= f.cfg.Interval {
		emit = &line{key: key, count: g.count, ex: g.example}
		g.count, g.lastEmit = 0, now
	}
	f.mu.Unlock()
	if emit != nil {
		f.write(*emit)
	}
}

// Flush logs every reason whose failures wait and whose last line is at
// least an Interval old (all of them when force is set), and forgets reasons
// that have been quiet for an Interval.
func (f *FailureLog) Flush(force bool) {
	now := f.cfg.Clock()
	var lines []line
	f.mu.Lock()
	for key, g := range f.groups {
		due := force || now.Sub(g.lastEmit) >= f.cfg.Interval
		switch {
		case g.count > 0 && due:
			lines = append(lines, line{key: key, count: g.count, ex: g.example})
			g.count, g.lastEmit = 0, now
		case g.count == 0 && due:
			delete(f.groups, key) // quiet: the next failure is logged at once
		}
	}
	f.mu.Unlock()
	for _, l := range lines {
		f.write(l)
	}
}

// Run flushes every Interval until ctx ends, then flushes what is left.
func (f *FailureLog) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			f.Flush(true)
			return
		case <-f.cfg.After(f.cfg.Interval):
			f.Flush(false)
		}
	}
}

func (f *FailureLog) write(l line) {
	msg := "webhook delivery failed; will retry"
	if l.key.outcome == ims.StatusDead {
		msg = "webhook delivery failed; message dead-lettered"
	}
	attrs := []slog.Attr{
		slog.String("reason", l.key.reason),
		slog.Int("count", l.count),
		slog.Duration("interval", f.cfg.Interval),
		slog.String("example_message_id", l.ex.Claim.MessageID),
		slog.Int("example_attempt", l.ex.Claim.Attempt),
	}
	if l.ex.Result.Err != "" {
		attrs = append(attrs, slog.String("example_error", l.ex.Result.Err))
	}
	f.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}
