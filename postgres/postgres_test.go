package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/testenv"
	"github.com/insiderone/ims/postgres"
	"github.com/insiderone/ims/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openURL opens and migrates a store on url and closes it when tb ends.
func openURL(tb testing.TB, url string, now ims.Clock) *postgres.Store {
	tb.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, url)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
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
