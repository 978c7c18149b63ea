package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/insiderone/ims"
)

// AppendAudit stores events in one multi-row insert. A zero CreatedAt means
// now.
func (s *Store) AppendAudit(ctx context.Context, events []ims.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	now := s.now()
	n := len(events)
	types, msgIDs, actors, details := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	for i, e := range events {
		types[i], msgIDs[i], actors[i], details[i] = e.Type, e.MessageID, e.Actor, e.Details
		ats[i] = now
		if !e.CreatedAt.IsZero() {
			ats[i] = micro(e.CreatedAt)
		}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_events (type, message_id, actor, details, created_at)
		SELECT type, message_id, actor, details, created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY
			AS t(type, message_id, actor, details, created_at, ord)
		ORDER BY ord`, types, msgIDs, actors, details, ats)
	if err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// unindexedAuditTypes are the events every delivery writes, which the
// partial index audit_events_type_idx leaves out (migration 00010): each is
// a third of all events, so a newest-first page of one is found walking the
// primary key. A filter on any other type names the index's predicate,
// auditTypeIndexed, so that the planner can use the index with any plan.
var unindexedAuditTypes = []string{ims.EventMessageCreated, ims.EventMessageClaimed, ims.EventMessageSent}

// auditTypeIndexed is the predicate of audit_events_type_idx.
var auditTypeIndexed = "type NOT IN (" + quoteList(unindexedAuditTypes) + ")"

// quoteList writes ss as a list of SQL string literals.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return strings.Join(q, ", ")
}

// ListAudit returns events newest first; the event ID is the cursor. Like
// ListMessages, the query holds only the conditions the filter sets.
func (s *Store) ListAudit(ctx context.Context, f ims.AuditFilter) (_ ims.AuditPage, err error) {
	defer classify(&err)
	limit := ims.PageLimit(f.Limit)
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Type != "" {
		add("type = $%d", f.Type)
		if !slices.Contains(unindexedAuditTypes, f.Type) {
			where = append(where, auditTypeIndexed) // see unindexedAuditTypes
		}
	}
	if f.MessageID != "" {
		id := f.MessageID
		if canonical, ok := normalizeID(id); ok {
			id = canonical // the stored form
		}
		add("message_id = $%d", id)
	}
	if !f.Since.IsZero() {
		add("created_at >= $%d", micro(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < $%d", micro(f.Until))
	}
	if f.Before > 0 {
		add("id < $%d", f.Before)
	}
	args = append(args, limit)
	q := "SELECT id, type, message_id, actor, details, created_at FROM audit_events" + whereClause(where) +
		fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return ims.AuditPage{}, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	page := ims.AuditPage{Events: []ims.AuditEvent{}}
	for rows.Next() {
		var e ims.AuditEvent
		if err := rows.Scan(&e.ID, &e.Type, &e.MessageID, &e.Actor, &e.Details, &e.CreatedAt); err != nil {
			return ims.AuditPage{}, fmt.Errorf("list audit events: scan: %w", err)
		}
		e.CreatedAt = e.CreatedAt.UTC()
		page.Events = append(page.Events, e)
	}
	if err := rows.Err(); err != nil {
		return ims.AuditPage{}, fmt.Errorf("list audit events: %w", err)
	}
	return ims.NewAuditPage(page.Events, limit), nil
}
