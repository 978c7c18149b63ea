package stats

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// records is a slog.Handler that keeps every record, for assertions.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// logLine is a record flattened for comparison.
type logLine struct {
	level   slog.Level
	msg     string
	reason  string
	count   int64
	example string
}

// take returns the lines written since the last take.
func (h *records) take() []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logLine
	for _, r := range h.recs {
		l := logLine{level: r.Level, msg: r.Message}
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "reason":
				l.reason = a.Value.String()
			case "count":
				l.count = a.Value.Int64()
			case "example_message_id":
				l.example = a.Value.String()
			}
			return true
		})
		out = append(out, l)
	}
	h.recs = nil
	return out
}

const (
	msgDead  = "webhook delivery failed; message dead-lettered"
	msgRetry = "webhook delivery failed; will retry"
)

func TestFailureLogAggregates(t *testing.T) {
	t.Parallel()
	clk, h := newClock(), &records{}
	f := NewFailureLog(FailureLogConfig{Interval: 10 * time.Second, Clock: clk.Now, Logger: slog.New(h)})
	dead := func(id string) ims.Outcome { return outcome(id, 401, "", ims.StatusDead) }

	t.Run("the first failure of a reason is logged at once", func(t *testing.T) {
		f.Observe(dead("m-1"))
		require.Equal(t, []logLine{{slog.LevelWarn, msgDead, "HTTP 401", 1, "m-1"}}, h.take())
	})
	t.Run("a storm is counted, not logged line by line", func(t *testing.T) {
		for i := range 500 {
			f.Observe(dead("m-storm-" + string(rune('a'+i%26))))
		}
		f.Observe(dead("m-last"))
		clk.advance(9 * time.Second)
		f.Flush(false)
		require.Empty(t, h.take(), "not before the interval has passed")
	})
	t.Run("another reason has its own line", func(t *testing.T) {
		f.Observe(timedOut)
		require.Equal(t, []logLine{{slog.LevelWarn, msgRetry, "timeout", 1, "m-slow"}}, h.take())
	})
	t.Run("successes are never logged", func(t *testing.T) {
		f.Observe(sent)
		require.Empty(t, h.take())
	})
	t.Run("one line per reason per interval, with the count", func(t *testing.T) {
		clk.advance(time.Second)
		f.Flush(false)
		require.Equal(t, []logLine{{slog.LevelWarn, msgDead, "HTTP 401", 501, "m-last"}}, h.take())
		f.Flush(false)
		require.Empty(t, h.take(), "nothing new, nothing logged")
	})
	t.Run("a reason quiet for an interval is logged at once again", func(t *testing.T) {
		clk.advance(10 * time.Second)
		f.Flush(false) // forgets both quiet reasons
		require.Empty(t, h.take())
		f.Observe(dead("m-again"))
		require.Equal(t, []logLine{{slog.LevelWarn, msgDead, "HTTP 401", 1, "m-again"}}, h.take())
	})
	t.Run("a failure after the interval is logged at once with the waiting ones", func(t *testing.T) {
		f.Observe(dead("m-x"))
		f.Observe(dead("m-y"))
		clk.advance(10 * time.Second)
		f.Observe(dead("m-z"))
		require.Equal(t, []logLine{{slog.LevelWarn, msgDead, "HTTP 401", 3, "m-z"}}, h.take())
	})
}

// TestFailureLogRun: the loop flushes on its timer and, when it ends, logs
// whatever still waits so no count is lost at shutdown.
func TestFailureLogRun(t *testing.T) {
	t.Parallel()
	clk, h := newClock(), &records{}
	ticks := make(chan time.Time)
	f := NewFailureLog(FailureLogConfig{Interval: 10 * time.Second, Clock: clk.Now, Logger: slog.New(h),
		After: func(time.Duration) <-chan time.Time { return ticks }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	f.Observe(rejected)
	f.Observe(rejected)
	require.Len(t, h.take(), 1)
	clk.advance(10 * time.Second)
	ticks <- time.Time{}
	ticks <- time.Time{} // the first tick's flush has finished once this one is taken
	require.Equal(t, []logLine{{slog.LevelWarn, msgDead, "HTTP 401", 1, "m-401"}}, h.take())

	f.Observe(rejected) // within the interval: waits
	cancel()
	<-done
	require.Equal(t, []logLine{{slog.LevelWarn, msgDead, "HTTP 401", 1, "m-401"}}, h.take())
}
