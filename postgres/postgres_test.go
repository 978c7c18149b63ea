package postgres_test

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/storetest"
	"github.com/insiderone/ims/internal/testenv"
	"github.com/insiderone/ims/postgres"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openURL opens and migrates a store on url and closes it when tb ends.
func openURL(tb testing.TB, url string, now ims.Clock) *postgres.Store {
	tb.Helper()
	ctx := context.Background()
	bindings := &uuidBindings{}
	s, err := postgres.Open(ctx, url, postgres.WithQueryTracer(bindings))
	require.NoError(tb, err)
	tb.Cleanup(func() {
		require.NoError(tb, s.Close())
		bindings.check(tb)
	})
	s.Now = now
	require.NoError(tb, s.Migrate(ctx))
	return s
}

// open gives a store on a fresh schema of its own.
func open(tb testing.TB, now ims.Clock) *postgres.Store {
	tb.Helper()
	return openURL(tb, testenv.PostgresURL(tb), now)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now ims.Clock) ims.Store { return open(t, now) })
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(tb testing.TB, now ims.Clock) ims.Store { return open(tb, now) })
}

// TestPoolIsBounded: the pool never opens more than MaxConns connections —
// pgx's default, max(4, CPUs), or pool_max_conns from DATABASE_URL — so a
// burst of requests queues for a connection instead of exhausting the
// server's max_connections.
func TestPoolIsBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		want  int32
	}{
		{"pgx default", "", int32(max(4, runtime.NumCPU()))},
		{"pool_max_conns in the url", "pool_max_conns=3", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := testenv.PostgresURL(t)
			if tt.query != "" {
				sep := "?"
				if strings.Contains(url, "?") {
					sep = "&"
				}
				url += sep + tt.query
			}
			s := openURL(t, url, nil)
			require.Equal(t, tt.want, s.Pool().Config().MaxConns)

			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for range 100 {
				wg.Go(func() {
					_, err := s.CountByStatus(t.Context())
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.LessOrEqual(t, s.Pool().Stat().TotalConns(), tt.want)
		})
	}
}

// TestOpenWarnsWhenAutovacuumIsOff: a server without autovacuum makes a
// large backlog drain ever slower (docs/benchmarks.md), so Open says so —
// and only then. The expectation is read from the server the test runs on.
func TestOpenWarnsWhenAutovacuumIsOff(t *testing.T) {
	t.Parallel()
	var log lockedBuffer
	ctx := t.Context()
	s, err := postgres.Open(ctx, testenv.PostgresURL(t),
		postgres.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	var setting string
	require.NoError(t, s.Pool().QueryRow(ctx, "SHOW autovacuum").Scan(&setting))
	if setting == "off" {
		require.Contains(t, log.String(), "autovacuum is off")
	} else {
		require.NotContains(t, log.String(), "autovacuum")
	}
}

// lockedBuffer is a log destination safe for the listener's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
