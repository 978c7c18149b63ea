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
func (s *Store) AppendAudit(ctx context.Context, events []ims.AuditEvent) (err error) {
	defer classify(&err)
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
	_, err = s.pool.Exec(ctx, `INSERT INTO audit_events (type, message_id, actor, details, created_at)
		SELECT type, message_id, actor, details, created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY
			AS t(type, message_id, actor, details, created_at, ord)
		ORDER BY ord`, types, msgIDs, actors, details, ats)
	if err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// unindexedAuditTypes are the events the partial index
// audit_events_type_idx leaves out: message.created, which every message
// stores (migration 00013; claimed and sent were left out too before the
// attempt rows stood for them, 00010). A newest-first page of it is found
// walking the primary key. A filter on any other type names the index's predicate,
// auditTypeIndexed, so that the planner can use the index with any plan.
var unindexedAuditTypes = []string{ims.EventMessageCreated}

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

// ListAudit returns events newest first; the event ID is the cursor. See
// auditQuery.
func (s *Store) ListAudit(ctx context.Context, f ims.AuditFilter) (_ ims.AuditPage, err error) {
	defer classify(&err)
	limit := ims.PageLimit(f.Limit)
	q, args := auditQuery(f, limit)
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

// auditQuery is the audit list: the stored events, and the message.claimed
// and message.sent events the attempt rows stand for (migration 00013,
// ims.ClaimedEventID, ims.SentEventID), each branch with every condition
// of the filter and its own ORDER BY id DESC LIMIT, so that each walks an
// index in id order and stops at the page (the primary keys, or the
// (message_id, id) indexes for a message), and the three are merged by id.
// A filter on a type reads only the branches that can hold it. Like
// ListMessages, each branch holds only the conditions the filter sets.
// Synthesised events older than the last audit purge's cut (audit_horizon)
// count as purged.
func auditQuery(f ims.AuditFilter, limit int) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var stored []string
	if f.Type != "" {
		stored = append(stored, "type = "+arg(f.Type))
		if !slices.Contains(unindexedAuditTypes, f.Type) {
			stored = append(stored, auditTypeIndexed) // see unindexedAuditTypes
		}
	}
	var claimed, sent []string
	withClaimed := f.Type == "" || f.Type == ims.EventMessageClaimed
	withSent := f.Type == "" || f.Type == ims.EventMessageSent
	if f.MessageID != "" {
		id, ok := normalizeID(f.MessageID)
		u, _ := parseID(f.MessageID)
		if !ok {
			// No attempt row can match: only stored events are read.
			id, withClaimed, withSent = f.MessageID, false, false
		}
		stored = append(stored, "message_id = "+arg(id))
		if withClaimed || withSent {
			p := arg(u) + "::uuid"
			claimed, sent = append(claimed, "a.message_id = "+p), append(sent, "a.message_id = "+p)
		}
	}
	claimed, sent = append(claimed, "a.claimed_at >= "+auditHorizon), append(sent, "a.sent_event", "a.created_at >= "+auditHorizon)
	if !f.Since.IsZero() {
		p := arg(micro(f.Since))
		stored, claimed, sent = append(stored, "created_at >= "+p), append(claimed, "a.claimed_at >= "+p),
			append(sent, "a.created_at >= "+p)
	}
	if !f.Until.IsZero() {
		p := arg(micro(f.Until))
		stored, claimed, sent = append(stored, "created_at < "+p), append(claimed, "a.claimed_at < "+p),
			append(sent, "a.created_at < "+p)
	}
	if f.Before > 0 {
		p := arg(f.Before)
		// The sent event of attempt a is a.id + 1: below the cursor when a.id is.
		stored, claimed, sent = append(stored, "id < "+p), append(claimed, "a.id < "+p), append(sent, "a.id < "+p+" - 1")
	}
	lim := arg(limit)
	// Each branch also yields its merge key: (id, 0) for a stored or a
	// claimed event, (a.id, 1) for the sent event of attempt a, whose ID is
	// a.id + 1. The order is the IDs' (no other event takes a.id + 1), and
	// the planner sees every branch already in it, so it merges the three
	// index walks without sorting any of them.
	branches := []string{"(SELECT id, type, message_id, actor, details, created_at, id AS k, 0 AS sub FROM audit_events" +
		whereClause(stored) + " ORDER BY id DESC LIMIT " + lim + ")"}
	if withClaimed {
		branches = append(branches, "(SELECT "+claimedEventCols+", a.id, 0 FROM delivery_attempts a"+
			whereClause(claimed)+" ORDER BY a.id DESC LIMIT "+lim+")")
	}
	if withSent {
		branches = append(branches, "(SELECT "+sentEventCols+", a.id, 1 FROM delivery_attempts a"+
			whereClause(sent)+" ORDER BY a.id DESC LIMIT "+lim+")")
	}
	cols := "id, type, message_id, actor, details, created_at"
	if len(branches) == 1 {
		return "SELECT " + cols + " FROM " + branches[0] + " e", args
	}
	return "SELECT " + cols + " FROM (" + strings.Join(branches, " UNION ALL ") + ") e ORDER BY k DESC, sub DESC LIMIT " + lim, args
}

// claimedEventCols and sentEventCols are the audit event columns (id,
// type, message_id, actor, details, created_at) of the claimed and the sent
// event an attempt row a stands for: ims.ClaimedEventID and ims.SentEventID,
// the claim's details (ims.TransitionClaim.DetailsFor), ims.SentEventDetails,
// and the outcome's actor when it was not the claim's (NULL, see recordSQL).
var (
	claimedEventCols = "a.id, " + quoteList([]string{ims.EventMessageClaimed}) + "::text, a.message_id::text, " +
		"a.claim_actor, format(" + quoteList([]string{ims.TransitionClaim.Details}) + ", a.number), a.claimed_at"
	sentEventCols = "a.id + 1, " + quoteList([]string{ims.EventMessageSent}) + "::text, a.message_id::text, " +
		"coalesce(a.actor, a.claim_actor), CASE WHEN a.status_code = 0 THEN " +
		quoteList([]string{ims.SentEventDetails(0)}) + " ELSE " + quoteList([]string{ims.ReasonDelivered + " (HTTP "}) +
		" || a.status_code || ')' END, a.created_at"
)

// auditHorizon is the cut of the last audit purge: synthesised events older
// than it count as purged.
const auditHorizon = "(SELECT purged_before FROM audit_horizon WHERE id = 1)"
