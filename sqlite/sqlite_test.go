package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/storetest"
	"github.com/insiderone/ims/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// open returns a fresh, migrated store in its own file under the test's
// temporary directory.
func open(tb testing.TB, now ims.Clock) ims.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "ims.db"))
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	s.Now = now
	require.NoError(tb, s.Migrate(tb.Context()))
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now ims.Clock) ims.Store { return open(t, now) })
}

func TestMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now ims.Clock) ims.Store {
		s, err := sqlite.Open(t.Context(), ":memory:")
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		s.Now = now
		require.NoError(t, s.Migrate(t.Context()))
		return s
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, open)
}
