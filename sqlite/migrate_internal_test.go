package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// TestMigrationRepairsUnencodableTimes: rows stored before send_at was
// bounded held years no JSON answer can write, so every list holding them
// failed. Migration 00002 cancels the message that can never be due and
// clamps every such time, after which the answers encode again.
func TestMigrationRepairsUnencodableTimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := migratedTo(t, 1)

	const (
		future = "0190a0b0-0000-7000-8000-000000000001"
		past   = "0190a0b0-0000-7000-8000-000000000002"
		fine   = "0190a0b0-0000-7000-8000-000000000003"
	)
	year10000 := time.Date(10000, 1, 1, 23, 58, 59, 0, time.UTC).UnixMicro()
	yearMinus1 := time.Date(-1, 12, 31, 0, 1, 0, 0, time.UTC).UnixMicro()
	in2030 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	now := time.Now().UnixMicro()
	_, err := s.write.ExecContext(ctx, `INSERT INTO messages (id, phone_number, content, status, next_attempt_at, send_at, created_at, updated_at) VALUES
		(?, '+905551234567', 'year 10000', 'pending', ?, ?, ?, ?),
		(?, '+905551234567', 'year -1', 'sent', ?, ?, ?, ?),
		(?, '+905551234567', 'fine', 'pending', ?, ?, ?, ?)`,
		future, year10000, year10000, now, now, past, yearMinus1, yearMinus1, now, now, fine, in2030, in2030, now, now)
	require.NoError(t, err)

	require.NoError(t, s.Migrate(ctx))

	page, err := s.ListMessages(ctx, ims.MessageFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Messages, 3)
	_, err = json.Marshal(page)
	require.NoError(t, err, "the list encodes again")

	got := map[string]ims.Message{}
	for _, m := range page.Messages {
		got[m.ID] = m
	}
	require.Equal(t, ims.StatusCanceled, got[future].Status, "never due: canceled")
	require.Equal(t, 9999, got[future].SendAt.Year())
	require.Equal(t, ims.StatusSent, got[past].Status, "a past time only gets clamped")
	require.Equal(t, 0, got[past].SendAt.Year())
	require.True(t, got[fine].SendAt.Equal(time.UnixMicro(in2030)), "other rows are untouched")
	require.Equal(t, ims.StatusPending, got[fine].Status)

	audit, err := s.ListAudit(ctx, ims.AuditFilter{MessageID: future, Limit: 10})
	require.NoError(t, err)
	require.Len(t, audit.Events, 1)
	require.Equal(t, ims.EventMessageCanceled, audit.Events[0].Type)
	require.Equal(t, "migration:00002", audit.Events[0].Actor)
}

// TestMigrationStoresLatencyInNanoseconds: migration 00005 turns the
// microseconds SQLite used to keep into the nanoseconds both stores keep
// now, so an old attempt shows the same latency_ns as before, and back down.
func TestMigrationStoresLatencyInNanoseconds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, p := migratedTo(t, 4)

	const id = "0190a0b0-0000-7000-8000-000000000001"
	now := time.Now().UnixMicro()
	_, err := s.write.ExecContext(ctx, `INSERT INTO messages (id, phone_number, content, status, next_attempt_at, created_at, updated_at)
		VALUES (?, '+905551234567', 'hi', 'sent', ?, ?, ?)`, id, now, now, now)
	require.NoError(t, err)
	_, err = s.write.ExecContext(ctx, `INSERT INTO delivery_attempts (message_id, number, latency_us, outcome, created_at)
		VALUES (?, 1, 15250, 'sent', ?)`, id, now)
	require.NoError(t, err)

	_, err = p.UpTo(ctx, 5)
	require.NoError(t, err)
	attempts, err := s.ListAttempts(ctx, id)
	require.NoError(t, err)
	require.Len(t, attempts, 1)
	require.Equal(t, 15250*time.Microsecond, attempts[0].Latency)

	_, err = p.DownTo(ctx, 4)
	require.NoError(t, err)
	var us int64
	require.NoError(t, s.write.QueryRowContext(ctx, `SELECT latency_us FROM delivery_attempts`).Scan(&us))
	require.Equal(t, int64(15250), us)
}

// TestMigrationPriorityExpiryRebuildsTable checks the rebuild of 00006: the
// rows and their delivery attempts survive it both ways (dropping the old
// table must not cascade), foreign keys are on again afterwards, and an
// expired message becomes dead on the way down.
func TestMigrationPriorityExpiryRebuildsTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, p := migratedTo(t, 5)

	const id = "0190a0b0-0000-7000-8000-000000000002"
	now := time.Now().UnixMicro()
	_, err := s.write.ExecContext(ctx, `INSERT INTO messages (id, phone_number, content, status, next_attempt_at, created_at, updated_at)
		VALUES (?, '+905551234567', 'hi', 'pending', ?, ?, ?)`, id, now, now, now)
	require.NoError(t, err)
	_, err = s.write.ExecContext(ctx, `INSERT INTO delivery_attempts (message_id, number, latency_ns, outcome, created_at)
		VALUES (?, 1, 1000, 'pending', ?)`, id, now)
	require.NoError(t, err)

	countAttempts := func() int {
		var n int
		require.NoError(t, s.write.QueryRowContext(ctx, `SELECT count(*) FROM delivery_attempts`).Scan(&n))
		return n
	}
	foreignKeys := func() int {
		var on int
		require.NoError(t, s.write.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&on))
		return on
	}

	_, err = p.UpTo(ctx, 6)
	require.NoError(t, err)
	require.Equal(t, 1, countAttempts())
	require.Equal(t, 1, foreignKeys())
	// Read the columns, not through the store: its queries are those of the
	// latest migration, which may add columns after this one.
	var rank int
	var expiresAt sql.NullInt64
	require.NoError(t, s.write.QueryRowContext(ctx, `SELECT priority, expires_at FROM messages WHERE id = ?`, id).Scan(&rank, &expiresAt))
	require.Equal(t, ims.PriorityNormal.Rank(), rank)
	require.False(t, expiresAt.Valid)
	_, err = s.write.ExecContext(ctx, `UPDATE messages SET status = 'expired' WHERE id = ?`, id)
	require.NoError(t, err)

	_, err = p.DownTo(ctx, 5)
	require.NoError(t, err)
	require.Equal(t, 1, countAttempts())
	require.Equal(t, 1, foreignKeys())
	var status string
	require.NoError(t, s.write.QueryRowContext(ctx, `SELECT status FROM messages WHERE id = ?`, id).Scan(&status))
	require.Equal(t, "dead", status)
}

// TestMigrationStatusCheckWithoutIN checks the in-place edit of 00010: the
// status CHECK of messages is a chain of equalities (no ephemeral table per
// row written), it refuses what it refused and accepts what it accepted,
// the database passes integrity_check, and the way down restores the IN.
// Should a later migration rebuild messages with its own CHECK, this test
// says that the edit no longer applies.
func TestMigrationStatusCheckWithoutIN(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ims.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(ctx))

	tableSQL := func() string {
		var q string
		require.NoError(t, s.write.QueryRowContext(ctx,
			`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'messages'`).Scan(&q))
		return q
	}
	require.Contains(t, tableSQL(), "CHECK (status = 'pending' OR status = 'sending'")
	require.NotContains(t, tableSQL(), "status IN (")
	var check string
	require.NoError(t, s.write.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check))
	require.Equal(t, "ok", check)

	now := time.Now().UnixMicro()
	insert := func(id, status string) error {
		_, err := s.write.ExecContext(ctx, `INSERT INTO messages (id, phone_number, content, status, next_attempt_at, created_at, updated_at)
			VALUES (?, '+905551234567', 'hi', ?, ?, ?, ?)`, id, status, now, now, now)
		return err
	}
	for i, st := range []ims.Status{ims.StatusPending, ims.StatusSending, ims.StatusSent, ims.StatusDead,
		ims.StatusCanceled, ims.StatusExpired} {
		require.NoError(t, insert(fmt.Sprintf("0190a0b0-0000-7000-8000-00000000000%d", i), string(st)), st)
	}
	require.ErrorContains(t, insert("0190a0b0-0000-7000-8000-000000000009", "bogus"), "CHECK constraint failed")

	p := migrationProvider(t, s)
	_, err = p.DownTo(ctx, 9)
	require.NoError(t, err)
	require.Contains(t, tableSQL(), "CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'canceled', 'expired'))")
	require.ErrorContains(t, insert("0190a0b0-0000-7000-8000-000000000009", "bogus"), "CHECK constraint failed")
}

// TestNoLongINListsOnMessageWrites: SQLite evaluates a CHECK's or a
// trigger's IN list of more than two constants through a table it builds
// for every row written, so neither the messages table nor a trigger on it
// may hold one (migration 00010 rewrites those it knows; this says when a
// later one brings another).
func TestNoLongINListsOnMessageWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ims.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(ctx))

	long := regexp.MustCompile(`(?i)\bIN\s*\(\s*'[^']*'\s*,\s*'[^']*'\s*,`)
	rows, err := s.write.QueryContext(ctx,
		`SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = 'messages' AND type IN ('table', 'trigger')`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var typ, name, q string
		require.NoError(t, rows.Scan(&typ, &name, &q))
		require.Falsef(t, long.MatchString(q), "%s %s has an IN list of more than two constants: %s", typ, name, q)
	}
	require.NoError(t, rows.Err())
}

// migratedTo opens a new store in a temporary file with the migrations
// applied up to version, and the provider that applied them.
func migratedTo(t *testing.T, version int64) (*Store, *goose.Provider) {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "ims.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	p := migrationProvider(t, s)
	_, err = p.UpTo(t.Context(), version)
	require.NoError(t, err)
	return s, p
}

// migrationProvider is a goose provider of the embedded migrations on s.
func migrationProvider(t *testing.T, s *Store) *goose.Provider {
	t.Helper()
	fsys, err := fs.Sub(migrations, "migrations")
	require.NoError(t, err)
	p, err := goose.NewProvider(goose.DialectSQLite3, s.write, fsys)
	require.NoError(t, err)
	return p
}

// TestMigrationAttemptEventsRoundTrip: 00013 moves a delivery's claimed and
// sent events into its attempt row, as on PostgreSQL (see its test of the
// same name): stored events stay, new attempts take IDs above every old
// one, and going down stores the synthesised events as rows.
func TestMigrationAttemptEventsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, p := migratedTo(t, 12)
	const old = "0190a0b0-0000-7000-8000-0000000000aa"
	_, err := s.write.ExecContext(ctx, `INSERT INTO messages (id, phone_number, content, status, attempts, next_attempt_at,
		created_at, updated_at, sent_at) VALUES (?1, '+905551234567', 'old', 'sent', 1, 1, 1, 1, 1)`, old)
	require.NoError(t, err)
	for range 5 { // IDs 1..5, above the audit events'
		_, err = s.write.ExecContext(ctx, `INSERT INTO delivery_attempts (message_id, number, status_code, outcome, created_at)
			VALUES (?, 1, 202, 'sent', 1)`, old)
		require.NoError(t, err)
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO audit_events (type, message_id, actor, details, created_at) VALUES
		('message.created', ?1, 'api', '', 1), ('message.claimed', ?1, 'w', 'attempt 1', 1),
		('message.sent', ?1, 'w', 'delivered (HTTP 202)', 1)`, old)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))

	list := func(f ims.AuditFilter) []ims.AuditEvent {
		t.Helper()
		f.Limit = 100
		page, err := s.ListAudit(ctx, f)
		require.NoError(t, err)
		return page.Events
	}
	oldTrail := list(ims.AuditFilter{MessageID: old})
	require.Equal(t, []string{ims.EventMessageSent, ims.EventMessageClaimed, ims.EventMessageCreated},
		[]string{oldTrail[0].Type, oldTrail[1].Type, oldTrail[2].Type}, "stored events stay, none is added")
	attempts, err := s.ListAttempts(ctx, old)
	require.NoError(t, err)
	require.Len(t, attempts, 5, "old attempts are finished attempts")

	_, err = s.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)
	res, err := s.CreateMessages(ctx, ims.WithActor("api", []ims.NewMessage{{PhoneNumber: "+905551234567", Content: "new"}}))
	require.NoError(t, err)
	claimed, err := s.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Minute, Actor: "w"})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.NoError(t, s.RecordOutcomes(ctx, []ims.Outcome{{Claim: claimed[0].Claim(), At: time.Now(),
		Decision: ims.Decision{Status: ims.StatusSent, Reason: ims.ReasonDelivered}, Result: ims.DeliveryResult{StatusCode: 202}}}, "w2"))
	newID := res[0].Message.ID
	newTrail := list(ims.AuditFilter{MessageID: newID})
	require.Len(t, newTrail, 3)
	attempts, err = s.ListAttempts(ctx, newID)
	require.NoError(t, err)
	require.Len(t, attempts, 1)
	require.Greater(t, attempts[0].ID, int64(5), "a new attempt's ID is above every old one")
	require.Equal(t, ims.ClaimedEventID(attempts[0].ID), newTrail[1].ID, "the claimed event's ID is the attempt's")
	require.Equal(t, ims.SentEventID(attempts[0].ID), newTrail[0].ID, "the sent event's ID follows it")
	all := list(ims.AuditFilter{})

	_, err = p.DownTo(ctx, 12)
	require.NoError(t, err)
	var stored int
	require.NoError(t, s.write.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE message_id = ?`, newID).Scan(&stored))
	require.Equal(t, 3, stored, "going down stores the synthesised events")
	require.NoError(t, s.Migrate(ctx))
	require.Equal(t, all, list(ims.AuditFilter{}), "the same trail before, after and back")
}

// TestMigrationDownWithoutProviderIDIndex: serve drops the provider-ID index
// while delivery reports are off (UseDeliveryReports), so the migration that
// created it must still go down without it.
func TestMigrationDownWithoutProviderIDIndex(t *testing.T) {
	t.Parallel()
	s, p := migratedTo(t, 15)
	changed, err := s.UseDeliveryReports(t.Context(), false)
	require.NoError(t, err)
	require.True(t, changed)
	_, err = p.DownTo(t.Context(), 8)
	require.NoError(t, err)
	_, err = p.UpTo(t.Context(), 15)
	require.NoError(t, err)
	has, err := s.hasIndex(t.Context(), providerIDIndex)
	require.NoError(t, err)
	require.True(t, has, "up again creates it")
}
