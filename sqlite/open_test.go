package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/sqlite"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		path    func(dir string) string
		wantErr bool
	}{
		{"plain path", func(dir string) string { return filepath.Join(dir, "a.db") }, false},
		{"sqlite URL", func(dir string) string { return "sqlite://" + filepath.Join(dir, "b.db") }, false},
		{"file URI", func(dir string) string { return "file:" + filepath.Join(dir, "c.db") }, false},
		{"memory", func(string) string { return ":memory:" }, false},
		{"empty", func(string) string { return "" }, true},
		{"missing directory", func(dir string) string { return filepath.Join(dir, "no", "such", "d.db") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := sqlite.Open(t.Context(), tt.path(t.TempDir()))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			require.NoError(t, s.Migrate(t.Context()))
			require.NoError(t, s.Ping(t.Context()))
		})
	}
}

// TestReopen proves the data is in the file and that migrating twice is safe,
// as `ims serve` migrates on every start.
func TestReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ims.db")
	s, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(t.Context()))
	res, err := s.CreateMessages(t.Context(), ims.WithActor("test", []ims.NewMessage{{PhoneNumber: "+905551234567", Content: "kept"}}))
	require.NoError(t, err)
	_, err = s.InitSchedulerState(t.Context(), false, "test")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(t.Context()))
	m, err := s.GetMessage(t.Context(), res[0].Message.ID)
	require.NoError(t, err)
	require.Equal(t, res[0].Message, m)
	st, err := s.SchedulerState(t.Context())
	require.NoError(t, err)
	require.False(t, st.Running)
	require.Equal(t, "test", st.UpdatedBy)
}

// TestConcurrentWriters mixes every kind of write from many goroutines: the
// single write connection must queue them, never fail with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	s := open(t, time.Now)
	ctx := t.Context()
	_, err := s.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)
	const workers, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				nm := ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("w%d r%d", w, r)}
				if _, err := s.CreateMessages(ctx, ims.WithActor("test", []ims.NewMessage{nm})); err != nil {
					errs <- err
				}
				claimed, err := s.ClaimDue(ctx, ims.ClaimParams{Limit: 2, Lease: time.Minute, Actor: "test"})
				if err != nil {
					errs <- err
				}
				outs := make([]ims.Outcome, len(claimed))
				for i, m := range claimed {
					outs[i] = ims.Outcome{Claim: m.Claim(), At: time.Now(), Decision: ims.Decision{Status: ims.StatusSent}}
				}
				if err := s.RecordOutcomes(ctx, outs, "test"); err != nil {
					errs <- err
				}
				if _, err := s.AcquireLeadership(ctx, fmt.Sprint(w), time.Second); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	counts, err := s.CountByStatus(ctx)
	require.NoError(t, err)
	require.EqualValues(t, workers*rounds, counts[ims.StatusSent]+counts[ims.StatusSending]+counts[ims.StatusPending])
}

// TestPoolsAreBounded: a burst of concurrent reads queues for at most
// MaxReadConns connections instead of opening one each (each carries its own
// page cache: 400 concurrent scrapes once took the process from 35 MB to
// 880 MB), and the writer stays a single connection.
func TestPoolsAreBounded(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ims.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(t.Context()))

	read, write := sqlite.Pools(s)
	require.Equal(t, sqlite.MaxReadConns, read.Stats().MaxOpenConnections)
	require.Equal(t, 1, write.Stats().MaxOpenConnections)

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			_, err := s.CountByStatus(t.Context())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "reads beyond the bound wait, they do not fail")
	}
	require.LessOrEqual(t, read.Stats().OpenConnections, sqlite.MaxReadConns)
}

// TestConnectionSettings reads back, on the writer and on a reader, the
// settings every connection is opened with: a pool that lost one (a
// connection reopened without its pragmas) would write without foreign keys,
// wait on no busy timeout, checkpoint every 1,000 pages again or write its
// statement journals to temporary files.
func TestConnectionSettings(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ims.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	read, write := sqlite.Pools(s)

	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "1"}, // NORMAL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
		{"wal_autocheckpoint", fmt.Sprint(sqlite.WALAutocheckpointPages)},
		{"temp_store", "2"}, // MEMORY
	}
	for _, pool := range []struct {
		name string
		db   *sql.DB
	}{{"writer", write}, {"reader", read}} {
		for _, tt := range tests {
			t.Run(pool.name+"/"+tt.pragma, func(t *testing.T) {
				var got string
				require.NoError(t, pool.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got))
				require.Equal(t, tt.want, got)
			})
		}
	}
}
