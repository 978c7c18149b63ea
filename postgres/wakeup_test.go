package postgres_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/testenv"
	"github.com/insiderone/ims/postgres"
)

// eventTimeout only bounds a test that is already failing: a wakeup that
// works arrives in milliseconds.
const eventTimeout = 10 * time.Second

func requireWakeup(t *testing.T, w ims.Waker, why string) {
	t.Helper()
	select {
	case <-w.Wakeups():
	case <-time.After(eventTimeout):
		t.Fatalf("no wakeup: %s", why)
	}
}

func newMessage(content string) []ims.NewMessage {
	return []ims.NewMessage{{PhoneNumber: "+905551234567", Content: content}}
}

func TestWakeupFromAnotherInstance(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresURL(t)
	listener := openURL(t, dsn, time.Now)
	writer := openURL(t, dsn, time.Now)
	_, err := writer.InitSchedulerState(t.Context(), true, "test")
	require.NoError(t, err)

	_, err = writer.CreateMessages(t.Context(), ims.WithActor("test", newMessage("hello")))
	require.NoError(t, err)
	requireWakeup(t, listener, "a due message created by another instance")

	// The wakeup is a hint; the work it announced must be claimable.
	got, err := listener.ClaimDue(t.Context(), ims.ClaimParams{Limit: 10, Lease: time.Minute, Actor: "test"})
	require.NoError(t, err)
	require.Len(t, got, 1)
}

func TestWakeupSurvivesListenerReconnect(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresURL(t)
	listener := openURL(t, dsn, time.Now)
	writer := openURL(t, dsn, time.Now)

	terminateListeners(t, dsn)
	requireWakeup(t, listener, "the listener signals after reconnecting, for work it may have missed")

	_, err := writer.CreateMessages(t.Context(), ims.WithActor("test", newMessage("after reconnect")))
	require.NoError(t, err)
	requireWakeup(t, listener, "a create after the listener reconnected")
}

// terminateListeners kills the backends LISTENing for the schema of dsn (one
// per store), as a database restart or a network cut would.
func terminateListeners(t *testing.T, dsn string) {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	schema := u.Query().Get("search_path")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close(ctx)) }()
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = $1`, "LISTEN "+pgx.Identifier{"ims_work_" + schema}.Sanitize()).Scan(&n)
	require.NoError(t, err)
	require.Equal(t, 2, n, "one listener backend per store")
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresURL(t)
	s := openURL(t, dsn, time.Now)
	require.NoError(t, s.Migrate(t.Context()), "migrating again is a no-op")

	u, err := url.Parse(dsn)
	require.NoError(t, err)
	var tables []string
	err = s.Pool().QueryRow(t.Context(), `SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables
		WHERE schemaname = $1`, u.Query().Get("search_path")).Scan(&tables)
	require.NoError(t, err)
	require.Equal(t, []string{"audit_events", "audit_horizon", "callback_settings", "callbacks", "delivery_attempts", "delivery_reports",
		"goose_db_version", "instances", "leader_lease", "message_counts", "message_phones", "messages", "provider_state", "scheduler_state"}, tables, "everything lives in the search_path schema")
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), eventTimeout)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	require.Error(t, err)
}
