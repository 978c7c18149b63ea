package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// purgeSQL deletes one batch of final messages and their attempts in one
// statement. SKIP LOCKED leaves rows another transaction holds (a replay in
// progress) for a later batch, and FOR UPDATE re-checks the WHERE on the
// latest row version, so a message replayed meanwhile is never deleted. The
// foreign key is checked at the end of the statement, after both deletes.
// Each status reads its own partial index (migration 00004): the status is a
// literal, so the planner can match the index's predicate.
func purgeSQL(status ims.Status) string {
	age := "updated_at"
	if status == ims.StatusSent {
		age = "sent_at"
	}
	return `/* ims: purge messages */
WITH doomed AS (
	SELECT id FROM messages WHERE status = '` + string(status) + `' AND ` + age + ` < $1
	ORDER BY ` + age + ` LIMIT $2
	FOR UPDATE SKIP LOCKED
),
attempts AS (
	DELETE FROM delivery_attempts a USING doomed d WHERE a.message_id = d.id
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
	tag, err := s.pool.Exec(ctx, purgeSQL(status), micro(cut), limit)
	if err != nil {
		return 0, fmt.Errorf("purge %s messages: %w", status, err)
	}
	return int(tag.RowsAffected()), nil
}

// PurgeAudit deletes up to limit audit events created before cut, oldest
// first (audit_events_created_idx).
func (s *Store) PurgeAudit(ctx context.Context, cut time.Time, limit int) (_ int, err error) {
	defer classify(&err)
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `/* ims: purge audit */ DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE created_at < $1 ORDER BY created_at LIMIT $2)`, micro(cut), limit)
	if err != nil {
		return 0, fmt.Errorf("purge audit events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
