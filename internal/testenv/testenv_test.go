package testenv_test

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// schemaOf connects with the returned URL and reports the schema the
// connection resolves unqualified names to.
func schemaOf(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close(ctx)) }()
	var schema *string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema))
	require.NotNil(t, schema, "search_path schema must exist")
	return *schema
}

func schemaExists(t *testing.T, name string) bool {
	t.Helper()
	ctx := context.Background()
	dsn := os.Getenv(testenv.DatabaseURLEnv)
	if dsn == "" {
		dsn = testenv.DefaultDatabaseURL
	}
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close(ctx)) }()
	var n int
	require.NoError(t, conn.QueryRow(ctx,
		"SELECT count(*) FROM pg_namespace WHERE nspname = $1", name).Scan(&n))
	return n == 1
}

func TestPostgresURL(t *testing.T) {
	var schema string
	t.Run("isolated schema", func(t *testing.T) {
		dsn := testenv.PostgresURL(t)
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		schema = u.Query().Get("search_path")
		require.Regexp(t, `^ims_test_[0-9a-f]{16}$`, schema)
		require.Equal(t, schema, schemaOf(t, dsn))

		other := testenv.PostgresURL(t)
		require.NotEqual(t, dsn, other, "each call gets its own schema")
	})
	if schema != "" {
		require.False(t, schemaExists(t, schema), "cleanup drops the schema")
	}
}

func TestRedisAndRabbitMQURL(t *testing.T) {
	tests := []struct {
		name string
		get  func(testing.TB) string
	}{
		{name: "redis", get: testenv.RedisURL},
		{name: "rabbitmq", get: testenv.RabbitMQURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.get(t))
			require.NoError(t, err)
			require.NotEmpty(t, u.Host)
		})
	}
}
