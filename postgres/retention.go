package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/msgid"
)

// purgeSQL deletes one batch of final messages and their attempts in one
// statement. SKIP LOCKED leaves rows another transaction holds (a replay in
// progress) for a later batch, and FOR UPDATE re-checks the WHERE on the
// latest row version, so a message replayed meanwhile is never deleted. The
// foreign key is checked at the end of the statement, after both deletes.
// Canceled, dead and expired each read their own partial index by age
// (migrations 00004, 00006): the status is a literal, so the planner can
// match the index's predicate. Sent, most of the table, has no such index
// (migration 00015: every delivery paid an entry in it): it walks
// messages_status_id_idx in ID order up to the cut's ID bound ($3,
// msgid.Bound) and checks sent_at there.
//
// The claimed and sent events the deleted attempt rows stood for (migration
// 00013) outlive them, as stored events outlive their message: they are
// stored in audit_events with the IDs they were listed under, unless the
// last audit purge already counts them as purged (auditHorizon). Audit
// retention deletes them later like any other event.
func purgeSQL(status ims.Status) string {
	pick := "updated_at < $1 ORDER BY updated_at"
	if status == ims.StatusSent {
		pick = "id < $3::uuid AND sent_at < $1 ORDER BY id"
	}
	return `/* ims: purge messages */
WITH doomed AS (
	SELECT id FROM messages WHERE status = '` + string(status) + `' AND ` + pick + ` LIMIT $2
	FOR UPDATE SKIP LOCKED
),
attempts AS (
	DELETE FROM delivery_attempts a USING doomed d WHERE a.message_id = d.id
	RETURNING a.*
),
kept AS (
	INSERT INTO audit_events (id, type, message_id, actor, details, created_at) OVERRIDING SYSTEM VALUE
	SELECT ` + claimedEventCols + ` FROM attempts a WHERE a.claimed_at >= ` + auditHorizon + `
	UNION ALL
	SELECT ` + sentEventCols + ` FROM attempts a WHERE a.sent_event AND a.created_at >= ` + auditHorizon + `
)
DELETE FROM messages m USING doomed d WHERE m.id = d.id`
}

// PurgeMessages deletes up to limit messages in status that reached it
// before cut, with their attempts.
func (s *Store) PurgeMessages(ctx context.Context, status ims.Status, cut time.Time, limit int) (_ int, err error) {
	defer classify(&err)
	if !ims.Purgeable(status) {
		return 0, ims.Errorf(ims.EINVALID, "messages in status %q are never purged", status)
	}
	if limit <= 0 {
		return 0, nil
	}
	args := []any{micro(cut), limit}
	if status == ims.StatusSent {
		bound, _ := parseID(msgid.Bound(cut)) // always a valid UUID
		args = append(args, bound)
	}
	tag, err := s.pool.Exec(ctx, purgeSQL(status), args...)
	if err != nil {
		return 0, fmt.Errorf("purge %s messages: %w", status, err)
	}
	return int(tag.RowsAffected()), nil
}

// PurgeAudit deletes up to limit audit events created before cut, oldest
// first (audit_events_created_idx), and moves the audit horizon to cut: the
// synthesised events older than it count as purged from now on (see
// auditQuery). They are not counted in the result.
func (s *Store) PurgeAudit(ctx context.Context, cut time.Time, limit int) (_ int, err error) {
	defer classify(&err)
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `/* ims: purge audit */ WITH horizon AS (
		UPDATE audit_horizon SET purged_before = $1 WHERE id = 1 AND purged_before < $1
	)
	DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE created_at < $1 ORDER BY created_at LIMIT $2)`, micro(cut), limit)
	if err != nil {
		return 0, fmt.Errorf("purge audit events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
