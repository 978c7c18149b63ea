package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/insiderone/ims"
)

const insertAuditSQL = `INSERT INTO audit_events (type, message_id, actor, details, created_at) VALUES (?, ?, ?, ?, ?)`

// auditStmt inserts audit events in a transaction, prepared once per batch.
type auditStmt struct{ *sql.Stmt }

func prepareAudit(ctx context.Context, tx *sql.Tx) (auditStmt, error) {
	st, err := tx.PrepareContext(ctx, insertAuditSQL)
	if err != nil {
		return auditStmt{}, fmt.Errorf("prepare audit insert: %w", err)
	}
	return auditStmt{st}, nil
}

func (a auditStmt) exec(ctx context.Context, typ, messageID, actor, details string, at time.Time) error {
	if _, err := a.ExecContext(ctx, typ, nullString(messageID), actor, details, micros(at)); err != nil {
		return fmt.Errorf("insert audit event %s: %w", typ, err)
	}
	return nil
}

// insertAudit writes one audit event in tx.
func insertAudit(ctx context.Context, tx *sql.Tx, typ, messageID, actor, details string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, insertAuditSQL, typ, nullString(messageID), actor, details, micros(at)); err != nil {
		return fmt.Errorf("insert audit event %s: %w", typ, err)
	}
	return nil
}

// AppendAudit stores events in one transaction. A zero CreatedAt means now.
func (s *Store) AppendAudit(ctx context.Context, events []ims.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		audit, err := prepareAudit(ctx, tx)
		if err != nil {
			return err
		}
		defer audit.Close()
		return eachRow(ctx, len(events), func(ctx context.Context, i int) error {
			e, at := events[i], now
			if !e.CreatedAt.IsZero() {
				at = e.CreatedAt
			}
			return audit.exec(ctx, e.Type, e.MessageID, e.Actor, e.Details, at)
		})
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// ListAudit lists audit events newest first, one page at a time. See
// auditQuery.
func (s *Store) ListAudit(ctx context.Context, f ims.AuditFilter) (ims.AuditPage, error) {
	limit := ims.PageLimit(f.Limit)
	q, args := auditQuery(f, limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return ims.AuditPage{}, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	page := ims.AuditPage{Events: []ims.AuditEvent{}}
	for rows.Next() {
		var (
			e  ims.AuditEvent
			at int64
		)
		if err := rows.Scan(&e.ID, &e.Type, &e.MessageID, &e.Actor, &e.Details, &at); err != nil {
			return ims.AuditPage{}, fmt.Errorf("list audit: scan: %w", err)
		}
		e.CreatedAt = fromMicros(at)
		page.Events = append(page.Events, e)
	}
	if err := rows.Err(); err != nil {
		return ims.AuditPage{}, fmt.Errorf("list audit: %w", err)
	}
	return ims.NewAuditPage(page.Events, limit), nil
}

// auditQuery is the audit list, as on PostgreSQL: the stored events and
// the message.claimed and message.sent events the attempt rows stand for
// (migration 00013), each branch with every condition of the filter and
// its own ORDER BY id DESC LIMIT (an index walked in id order, stopping at
// the page), merged by id. A filter on a type reads only the branches that
// can hold it; synthesised events older than the last audit purge's cut
// (audit_horizon) count as purged.
func auditQuery(f ims.AuditFilter, limit int) (string, []any) {
	stored, args := auditWhere(f)
	var claimed, sent []string
	var cargs, sargs []any
	both := func(cc, sc string, arg any) {
		claimed, cargs = append(claimed, cc), append(cargs, arg)
		sent, sargs = append(sent, sc), append(sargs, arg)
	}
	withClaimed := f.Type == "" || f.Type == ims.EventMessageClaimed
	withSent := f.Type == "" || f.Type == ims.EventMessageSent
	if f.MessageID != "" {
		u, err := uuid.Parse(f.MessageID)
		if err != nil {
			withClaimed, withSent = false, false // no attempt row can match
		} else {
			both("a.message_id = ?", "a.message_id = ?", u.String())
		}
	}
	claimed, sent = append(claimed, "a.claimed_at >= "+auditHorizon), append(sent, "a.sent_event", "a.created_at >= "+auditHorizon)
	if !f.Since.IsZero() {
		both("a.claimed_at >= ?", "a.created_at >= ?", micros(f.Since))
	}
	if !f.Until.IsZero() {
		both("a.claimed_at < ?", "a.created_at < ?", micros(f.Until))
	}
	if f.Before > 0 {
		// The sent event of attempt a is a.id + 1: below the cursor when a.id is.
		both("a.id < ?", "a.id < ? - 1", f.Before)
	}
	// Each branch also yields its merge key, as on PostgreSQL: (id, 0) for
	// a stored or a claimed event, (a.id, 1) for the sent event of attempt
	// a, whose ID is a.id + 1.
	branches := []string{`SELECT * FROM (SELECT id, type, COALESCE(message_id, '') AS message_id, actor, details, created_at,
		id AS k, 0 AS sub FROM audit_events` + whereClause(stored) + ` ORDER BY id DESC LIMIT ?)`}
	args = append(args, limit)
	if withClaimed {
		branches = append(branches, `SELECT * FROM (SELECT `+claimedEventCols+`, a.id, 0 FROM delivery_attempts a`+
			whereClause(claimed)+` ORDER BY a.id DESC LIMIT ?)`)
		args = append(append(args, cargs...), limit)
	}
	if withSent {
		branches = append(branches, `SELECT * FROM (SELECT `+sentEventCols+`, a.id, 1 FROM delivery_attempts a`+
			whereClause(sent)+` ORDER BY a.id DESC LIMIT ?)`)
		args = append(append(args, sargs...), limit)
	}
	const cols = "SELECT id, type, message_id, actor, details, created_at FROM ("
	if len(branches) == 1 {
		return cols + branches[0] + ")", args
	}
	return cols + strings.Join(branches, " UNION ALL ") + ") ORDER BY k DESC, sub DESC LIMIT ?", append(args, limit)
}

// claimedEventCols and sentEventCols are the audit event columns (id,
// type, message_id, actor, details, created_at) of the claimed and the sent
// event an attempt row a stands for, as on PostgreSQL.
var (
	claimedEventCols = "a.id, " + quote(ims.EventMessageClaimed) + ", a.message_id, a.claim_actor, " +
		"printf(" + quote(ims.TransitionClaim.Details) + ", a.number), a.claimed_at"
	sentEventCols = "a.id + 1, " + quote(ims.EventMessageSent) + ", a.message_id, coalesce(a.actor, a.claim_actor), " +
		"CASE WHEN a.status_code = 0 THEN " + quote(ims.SentEventDetails(0)) + " ELSE " +
		quote(ims.ReasonDelivered+" (HTTP ") + " || a.status_code || ')' END, a.created_at"
)

// auditHorizon is the cut of the last audit purge: synthesised events older
// than it count as purged.
const auditHorizon = "(SELECT purged_before FROM audit_horizon WHERE id = 1)"

// quoteList writes ss as a list of SQL string literals.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

// unindexedAuditTypes are the events the partial index audit_events_type
// leaves out: message.created, which every message stores (migration 00013;
// claimed and sent were left out too before the attempt rows stood for
// them, 00010). A newest-first page of it is found walking the primary key. A filter on any other type names the index's predicate,
// auditTypeIndexed, word for word: SQLite uses a partial index only when
// the query's WHERE proves its predicate.
var unindexedAuditTypes = []string{ims.EventMessageCreated}

// auditTypeIndexed is the predicate of audit_events_type: inequalities,
// because SQLite evaluates a partial index's NOT IN list of more than two
// constants through a table it builds for every row inserted.
var auditTypeIndexed = func() string {
	terms := make([]string, len(unindexedAuditTypes))
	for i, t := range unindexedAuditTypes {
		terms[i] = "type <> " + quote(t)
	}
	return strings.Join(terms, " AND ")
}()

func auditWhere(f ims.AuditFilter) ([]string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		where, args = append(where, cond), append(args, arg)
	}
	if f.Type != "" {
		add("type = ?", f.Type)
		if !slices.Contains(unindexedAuditTypes, f.Type) {
			where = append(where, auditTypeIndexed) // see unindexedAuditTypes
		}
	}
	if f.MessageID != "" {
		id := f.MessageID
		if u, err := uuid.Parse(id); err == nil {
			id = u.String() // the stored form, as Postgres' uuid type would compare
		}
		add("message_id = ?", id)
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", micros(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < ?", micros(f.Until))
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	return where, args
}
