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
		for _, e := range events {
			at := now
			if !e.CreatedAt.IsZero() {
				at = e.CreatedAt
			}
			if err := audit.exec(ctx, e.Type, e.MessageID, e.Actor, e.Details, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// ListAudit lists audit events newest first, one page at a time.
func (s *Store) ListAudit(ctx context.Context, f ims.AuditFilter) (ims.AuditPage, error) {
	where, args := auditWhere(f)
	limit := ims.PageLimit(f.Limit)
	q := `SELECT id, type, COALESCE(message_id, ''), actor, details, created_at FROM audit_events` +
		whereClause(where) + ` ORDER BY id DESC LIMIT ?`
	rows, err := s.read.QueryContext(ctx, q, append(args, limit)...)
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

// unindexedAuditTypes are the events every delivery writes, which the
// partial index audit_events_type leaves out (migration 00010): each is a
// third of all events, so a newest-first page of one is found walking the
// primary key. A filter on any other type names the index's predicate,
// auditTypeIndexed, word for word: SQLite uses a partial index only when
// the query's WHERE proves its predicate.
var unindexedAuditTypes = []string{ims.EventMessageCreated, ims.EventMessageClaimed, ims.EventMessageSent}

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
