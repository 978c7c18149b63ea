package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/testenv"
)

// TestMigrationRepairsUnencodableTimes: rows stored before send_at was
// bounded held years no JSON answer can write, so every list holding them
// failed. Migration 00002 cancels the message that can never be due and
// clamps every such time, after which the answers encode again.
func TestMigrationRepairsUnencodableTimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, testenv.PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	p := migrationProvider(t, s)
	_, err = p.UpTo(ctx, 1)
	require.NoError(t, err)

	const (
		future = "0190a0b0-0000-7000-8000-000000000001"
		past   = "0190a0b0-0000-7000-8000-000000000002"
		fine   = "0190a0b0-0000-7000-8000-000000000003"
	)
	_, err = s.pool.Exec(ctx, `INSERT INTO messages (id, phone_number, content, status, next_attempt_at, send_at, created_at, updated_at) VALUES
		($1, '+905551234567', 'year 10000', 'pending', '10000-01-01 23:58:59+00', '10000-01-01 23:58:59+00', now(), now()),
		($2, '+905551234567', 'year -1', 'sent', '0002-12-31 00:01:00+00 BC', '0002-12-31 00:01:00+00 BC', now(), now()),
		($3, '+905551234567', 'fine', 'pending', '2030-01-01 00:00:00+00', '2030-01-01 00:00:00+00', now(), now())`, future, past, fine)
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
	require.True(t, got[fine].SendAt.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)), "other rows are untouched")
	require.Equal(t, ims.StatusPending, got[fine].Status)

	audit, err := s.ListAudit(ctx, ims.AuditFilter{MessageID: future, Limit: 10})
	require.NoError(t, err)
	require.Len(t, audit.Events, 1)
	require.Equal(t, ims.EventMessageCanceled, audit.Events[0].Type)
	require.Equal(t, "migration:00002", audit.Events[0].Actor)
}

// TestMigrationCheapCallbackTriggerRoundTrip: 00012 goes down to 00009's
// trigger (no probe in its WHEN) and up again to the one whose WHEN asks
// for a URL and for parked reports; the behaviour both must have is
// storetest's.
func TestMigrationCheapCallbackTriggerRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t)

	p := migrationProvider(t, s)

	when := func() string {
		var def string
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT pg_get_triggerdef(oid) FROM pg_trigger
			WHERE tgname = 'messages_changed' AND tgrelid = 'messages'::regclass`).Scan(&def))
		return def
	}
	_, err := p.DownTo(ctx, 12)
	require.NoError(t, err)
	require.Contains(t, when(), "ims_has_parked")
	_, err = p.DownTo(ctx, 11)
	require.NoError(t, err)
	require.NotContains(t, when(), "ims_has_parked")
	require.NotContains(t, when(), "ims_callback_configured")
	_, err = p.UpTo(ctx, 12)
	require.NoError(t, err)
	require.Contains(t, when(), "ims_callback_configured")
	require.NoError(t, s.Migrate(ctx))
}

// TestMigrationStatementCallbackTriggerRoundTrip: 00018 makes
// messages_changed a statement trigger over transition tables, and going
// down brings back 00012's row trigger; on both sides a batch of sends
// writes the same callbacks and applies the same parked report (the
// behaviour itself is storetest's).
func TestMigrationStatementCallbackTriggerRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t)
	_, err := s.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)
	require.NoError(t, s.SetStatusCallbackURL(ctx, "https://receiver.example/ims"))
	p := migrationProvider(t, s)

	def := func() string {
		t.Helper()
		var def string
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT pg_get_triggerdef(oid) FROM pg_trigger
			WHERE tgname = 'messages_changed' AND tgrelid = 'messages'::regclass`).Scan(&def))
		return def
	}
	// sendBatch claims three messages, parks a report for the second's
	// provider id and records all three sent in one batch; it returns the
	// callbacks written, as "message index:delivery status", in order.
	sendBatch := func() []string {
		t.Helper()
		nms := make([]ims.NewMessage, 3)
		for i := range nms {
			nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("batch %d", i)}
		}
		_, err := s.CreateMessages(ctx, ims.WithActor("test", nms))
		require.NoError(t, err)
		claimed, err := s.ClaimDue(ctx, ims.ClaimParams{Limit: 3, Lease: time.Minute, Actor: "test"})
		require.NoError(t, err)
		require.Len(t, claimed, 3)
		now := time.Now().UTC().Truncate(time.Microsecond)
		_, err = s.RecordDeliveryReports(ctx, []ims.DeliveryReport{{ProviderMessageID: "prov-" + claimed[1].ID,
			Status: ims.DeliveryDelivered, Reported: "delivered", At: now, Timestamped: true, ReceivedAt: now}}, "test")
		require.NoError(t, err)
		outs := make([]ims.Outcome, 3)
		index := map[string]int{}
		for i, m := range claimed {
			index[m.ID] = i
			outs[i] = ims.Outcome{Claim: m.Claim(), At: time.Now(), Decision: ims.Decision{Status: ims.StatusSent},
				Result: ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-" + m.ID}}
		}
		require.NoError(t, s.RecordOutcomes(ctx, outs, "test"))
		rows, err := s.pool.Query(ctx, `DELETE FROM callbacks RETURNING id, message_id::text, delivery_status`)
		require.NoError(t, err)
		type row struct {
			id       int64
			msg, dlr string
		}
		var got []row
		for rows.Next() {
			var r row
			require.NoError(t, rows.Scan(&r.id, &r.msg, &r.dlr))
			got = append(got, r)
		}
		require.NoError(t, rows.Err())
		slices.SortFunc(got, func(a, b row) int { return cmp.Compare(a.id, b.id) })
		var out []string
		for _, r := range got {
			if r.msg == claimed[1].ID { // the others' order among themselves is the trigger's
				out = append(out, fmt.Sprintf("%d:%s", index[r.msg], r.dlr))
			}
		}
		return append(out, fmt.Sprintf("%d callbacks", len(got)))
	}
	want := []string{"1:", "1:delivered", "4 callbacks"}

	require.Contains(t, def(), "FOR EACH STATEMENT")
	require.Equal(t, want, sendBatch())
	_, err = p.DownTo(ctx, 17)
	require.NoError(t, err)
	require.Contains(t, def(), "FOR EACH ROW")
	require.Contains(t, def(), "ims_has_parked")
	require.Equal(t, want, sendBatch(), "the row trigger writes the same")
	require.NoError(t, s.Migrate(ctx))
	require.Contains(t, def(), "FOR EACH STATEMENT")
	require.Equal(t, want, sendBatch())
}

// TestMigrationAttemptEventsRoundTrip: 00013 moves a delivery's claimed and
// sent events into its attempt row. Events stored before it stay as they
// are (nothing is synthesised from old attempt rows), new attempts take IDs
// above every old one, and going down stores the synthesised events as
// rows with the IDs they were listed under, so the trail reads the same
// before, after and back.
func TestMigrationAttemptEventsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresURL(t)
	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	p := migrationProvider(t, s)
	_, err = p.UpTo(ctx, 12)
	require.NoError(t, err)

	const old = "0190a0b0-0000-7000-8000-0000000000aa"
	_, err = s.pool.Exec(ctx, `INSERT INTO messages (id, phone_number, content, status, attempts, next_attempt_at,
		created_at, updated_at, sent_at) VALUES ($1, '+905551234567', 'old', 'sent', 1, now(), now(), now(), now())`, old)
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `INSERT INTO delivery_attempts (message_id, number, status_code, outcome, created_at)
		SELECT $1, 1, 202, 'sent', now() FROM generate_series(1, 5)`, old) // IDs 1..5, above the audit events'
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `INSERT INTO audit_events (type, message_id, actor, details, created_at) VALUES
		('message.created', $1, 'api', '', now()), ('message.claimed', $1, 'w', 'attempt 1', now()),
		('message.sent', $1, 'w', 'delivered (HTTP 202)', now())`, old)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))

	list := func(s *Store, f ims.AuditFilter) []ims.AuditEvent {
		t.Helper()
		f.Limit = 100
		page, err := s.ListAudit(ctx, f)
		require.NoError(t, err)
		return page.Events
	}
	oldTrail := list(s, ims.AuditFilter{MessageID: old})
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
	newTrail := list(s, ims.AuditFilter{MessageID: newID})
	require.Len(t, newTrail, 3)
	attempts, err = s.ListAttempts(ctx, newID)
	require.NoError(t, err)
	require.Len(t, attempts, 1)
	require.Greater(t, attempts[0].ID, int64(5), "a new attempt's ID is above every old one")
	require.Equal(t, ims.ClaimedEventID(attempts[0].ID), newTrail[1].ID, "the claimed event's ID is the attempt's")
	require.Equal(t, ims.SentEventID(attempts[0].ID), newTrail[0].ID, "the sent event's ID follows it")
	all := list(s, ims.AuditFilter{})

	_, err = p.DownTo(ctx, 12)
	require.NoError(t, err)
	var stored int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE message_id = $1`, newID).Scan(&stored))
	require.Equal(t, 3, stored, "going down stores the synthesised events")
	require.NoError(t, s.Migrate(ctx))

	again, err := Open(ctx, dsn) // a new pool: the old one's prepared statements knew the old tables
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, again.Close()) })
	require.Equal(t, all, list(again, ims.AuditFilter{}), "the same trail before, after and back")
}

// TestMigrationMessagePhonesRoundTrip: 00016 fills message_phones with the
// messages stored before it, so the phone filter still finds them, and
// keeps it in step with later creates and deletes; going down brings back
// the index on messages and the filter's old query still has it.
func TestMigrationMessagePhonesRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t)

	p := migrationProvider(t, s)
	_, err := p.DownTo(ctx, 15)
	require.NoError(t, err)

	const phone = "+905551234567"
	old, err := s.CreateMessages(ctx, ims.WithActor("test", []ims.NewMessage{{PhoneNumber: phone, Content: "before 00016"},
		{PhoneNumber: "+14155550100", Content: "another number"}}))
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))

	listed := func() []string {
		t.Helper()
		page, err := s.ListMessages(ctx, ims.MessageFilter{PhoneNumber: phone})
		require.NoError(t, err)
		ids := []string{}
		for _, m := range page.Messages {
			ids = append(ids, m.ID)
		}
		return ids
	}
	require.Equal(t, []string{old[0].Message.ID}, listed(), "a message stored before 00016 is found by its number")
	created, err := s.CreateMessages(ctx, ims.WithActor("test", []ims.NewMessage{{PhoneNumber: phone, Content: "after 00016"}}))
	require.NoError(t, err)
	require.Equal(t, []string{created[0].Message.ID, old[0].Message.ID}, listed(), "a create adds its pair, newest first")
	_, err = s.pool.Exec(ctx, "DELETE FROM messages WHERE id = $1", old[0].Message.ID)
	require.NoError(t, err)
	require.Equal(t, []string{created[0].Message.ID}, listed(), "a delete, whatever statement makes it, removes its pair")
	var pairs int
	require.NoError(t, s.pool.QueryRow(ctx, "SELECT count(*) FROM message_phones").Scan(&pairs))
	require.Equal(t, 2, pairs, "one pair per stored message")

	_, err = p.DownTo(ctx, 15)
	require.NoError(t, err)
	var index int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = 'messages' AND indexname = 'messages_phone_number_id'`).Scan(&index))
	require.Equal(t, 1, index, "going down brings the index back")
	var n int
	require.NoError(t, s.pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE phone_number = $1", phone).Scan(&n))
	require.Equal(t, 1, n)
	require.NoError(t, s.Migrate(ctx))
	require.Equal(t, []string{created[0].Message.ID}, listed(), "and up again fills the table anew")
}

// migrationProvider is a goose provider over s's migrations, to move its
// schema to a given version.
func migrationProvider(t *testing.T, s *Store) *goose.Provider {
	t.Helper()
	fsys, err := fs.Sub(migrations, "migrations")
	require.NoError(t, err)
	db := stdlib.OpenDB(*s.pool.Config().ConnConfig)
	t.Cleanup(func() { _ = db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	return p
}

// openMigrated opens a store on a fresh schema of its own, migrated to the
// latest version, and closes it when the test ends.
func openMigrated(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, testenv.PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(ctx))
	return s
}

// TestMigrationMessageCountsRoundTrip: 00017 counts the messages stored
// before it, its triggers follow every statement that changes statuses
// (also an operator's UPDATE, DELETE and TRUNCATE), and down and up again
// counts anew.
func TestMigrationMessageCountsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t)
	_, err := s.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)
	p := migrationProvider(t, s)
	_, err = p.DownTo(ctx, 16)
	require.NoError(t, err)

	nms := make([]ims.NewMessage, 4)
	for i := range nms {
		nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("before 00017 #%d", i)}
	}
	created, err := s.CreateMessages(ctx, ims.WithActor("test", nms))
	require.NoError(t, err)
	_, err = s.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Hour, Actor: "w"})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	requireCounts(t, s, map[ims.Status]int64{ims.StatusPending: 3, ims.StatusSending: 1}, "messages stored before 00017 are counted")

	_, err = s.pool.Exec(ctx, "UPDATE messages SET status = 'canceled' WHERE id = $1", created[3].Message.ID)
	require.NoError(t, err)
	requireCounts(t, s, map[ims.Status]int64{ims.StatusPending: 2, ims.StatusSending: 1, ims.StatusCanceled: 1}, "an operator's UPDATE")
	_, err = s.pool.Exec(ctx, "DELETE FROM messages WHERE id = $1", created[3].Message.ID)
	require.NoError(t, err)
	requireCounts(t, s, map[ims.Status]int64{ims.StatusPending: 2, ims.StatusSending: 1}, "a DELETE")

	_, err = p.DownTo(ctx, 16)
	require.NoError(t, err)
	var tables int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables
		WHERE schemaname = current_schema() AND tablename = 'message_counts'`).Scan(&tables))
	require.Equal(t, 0, tables, "going down drops the counters")
	_, err = s.pool.Exec(ctx, "UPDATE messages SET status = 'dead' WHERE id = $1", created[2].Message.ID)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	requireCounts(t, s, map[ims.Status]int64{ims.StatusPending: 1, ims.StatusSending: 1, ims.StatusDead: 1}, "up again counts anew")

	_, err = s.pool.Exec(ctx, "TRUNCATE messages CASCADE")
	require.NoError(t, err)
	requireCounts(t, s, map[ims.Status]int64{}, "a TRUNCATE")
}

// requireCounts checks CountByStatus against want (statuses not in it: 0)
// and against a count of the table itself.
func requireCounts(t *testing.T, s *Store, want map[ims.Status]int64, msg string) {
	t.Helper()
	ctx := context.Background()
	full := make(map[ims.Status]int64, len(ims.Statuses))
	for _, st := range ims.Statuses {
		full[st] = want[st]
	}
	got, err := s.CountByStatus(ctx)
	require.NoError(t, err)
	require.Equal(t, full, got, msg)
	require.Equal(t, full, countTable(t, s), "%s: the table itself", msg)
}

// countTable counts messages by status the way CountByStatus did before
// 00017: the truth the counters must match.
func countTable(t *testing.T, s *Store) map[ims.Status]int64 {
	t.Helper()
	out := make(map[ims.Status]int64, len(ims.Statuses))
	for _, st := range ims.Statuses {
		out[st] = 0
	}
	rows, err := s.pool.Query(context.Background(), "SELECT status, count(*) FROM messages GROUP BY status")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var st ims.Status
		var n int64
		require.NoError(t, rows.Scan(&st, &n))
		out[st] = n
	}
	require.NoError(t, rows.Err())
	return out
}
