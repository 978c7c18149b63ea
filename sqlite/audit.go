package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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
