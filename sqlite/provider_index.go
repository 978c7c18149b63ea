package sqlite

import (
	"context"
	"fmt"
)

// providerIDIndex is the index a delivery report finds its message by: the
// provider's message ID (migration 00009 creates it).
const providerIDIndex = "messages_provider_message_id"

// createProviderIDIndexSQL is migration 00009's definition of the index.
const createProviderIDIndexSQL = `CREATE INDEX IF NOT EXISTS ` + providerIDIndex + `
	ON messages (provider_message_id) WHERE provider_message_id <> ''`

// UseDeliveryReports tells the store whether delivery reports will be
// recorded (DLR_AUTH_KEY is set) and keeps the provider-ID index only while
// they will. It returns whether it built or dropped the index.
//
// The index is the most expensive write of a delivery on SQLite: providers'
// message IDs are random, so every sent outcome changes a leaf page of its
// own, which SQLite's log holds whole and the checkpoint writes again —
// about half the bytes SQLite writes per delivered message
// (docs/benchmarks.md, 2026-12-03 and 2026-12-04). Only a delivery report
// reads it (RecordDeliveryReports), and with reports off the endpoint
// answers 503 before reaching the store. Turning reports on builds the index
// from the stored IDs, so no report misses a message sent while they were
// off. A schema that follows a setting suits SQLite because one instance
// owns the file (README: SQLite is a single-machine database); PostgreSQL
// keeps the index always, since every instance of a fleet would have to
// agree on it.
func (s *Store) UseDeliveryReports(ctx context.Context, enabled bool) (changed bool, err error) {
	has, err := s.hasIndex(ctx, providerIDIndex)
	if err != nil {
		return false, fmt.Errorf("provider-ID index: %w", err)
	}
	switch {
	case enabled && !has:
		_, err = s.write.ExecContext(ctx, createProviderIDIndexSQL)
	case !enabled && has:
		_, err = s.write.ExecContext(ctx, `DROP INDEX IF EXISTS `+providerIDIndex)
	default:
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("provider-ID index (delivery reports enabled: %t): %w", enabled, err)
	}
	return true, nil
}

func (s *Store) hasIndex(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.write.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up index %s: %w", name, err)
	}
	return n > 0, nil
}
