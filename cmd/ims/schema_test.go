package main

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims/config"
)

// TestFitSchemaToReports: serve keeps SQLite's provider-ID index exactly
// while DLR_AUTH_KEY is set, across restarts that turn reports off and on.
func TestFitSchemaToReports(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ims.db")
	cfg := config.Config{SQLitePath: path}
	starts := []struct {
		name      string
		reportsOn bool
		wantIndex bool
		wantLog   string
	}{
		{"first start, reports off: dropped", false, false, "dropped the SQLite index"},
		{"restart, reports off: still none", false, false, ""},
		{"restart, reports on: built", true, true, "built the SQLite index"},
		{"restart, reports on: kept", true, true, ""},
		{"restart, reports off again: dropped", false, false, "dropped the SQLite index"},
	}
	for _, st := range starts {
		t.Run(st.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			logs := newLogBuffer(t, "serve")
			log := slog.New(slog.NewTextHandler(logs, nil))
			store, err := openStore(ctx, cfg, log)
			require.NoError(t, err)
			require.NoError(t, fitSchemaToReports(ctx, store, st.reportsOn, log))
			require.NoError(t, store.Close())

			require.Equal(t, st.wantIndex, hasSQLiteIndex(t, path, "messages_provider_message_id"))
			if st.wantLog == "" {
				require.NotContains(t, logs.String(), "SQLite index")
			} else {
				require.Contains(t, logs.String(), st.wantLog)
			}
		})
	}
}

func hasSQLiteIndex(t *testing.T, path, name string) bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, name).Scan(&n))
	return n == 1
}
