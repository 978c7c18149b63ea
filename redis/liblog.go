package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/insiderone/ims"
)

// LibraryLogger turns go-redis's own log lines into slog lines, at most one
// per interval: go-redis logs every failed dial, which during an outage means
// a line per cache call. go-redis keeps its logger in a package global, so
// only main should install it, once:
//
//	goredis.SetLogger(redis.NewLibraryLogger(logger, redis.DefaultAsyncLogEvery))
type LibraryLogger struct {
	logger *slog.Logger
	now    ims.Clock

	mu    sync.Mutex
	limit logLimiter
}

// NewLibraryLogger logs to logger at most once per every.
func NewLibraryLogger(logger *slog.Logger, every time.Duration) *LibraryLogger {
	return &LibraryLogger{logger: logger, now: time.Now, limit: logLimiter{every: every}}
}

// Printf implements go-redis's internal.Logging.
func (l *LibraryLogger) Printf(ctx context.Context, format string, v ...any) {
	l.mu.Lock()
	suppressed, ok := l.limit.allow(l.now())
	l.mu.Unlock()
	if ok {
		l.logger.WarnContext(ctx, fmt.Sprintf(format, v...),
			"component", "go-redis", "similar_lines_suppressed", suppressed)
	}
}
