package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// purgeSQL deletes one batch of final messages; their attempts go with them
// (ON DELETE CASCADE, foreign keys are on). Each status reads its own partial
// index (migration 00004); INDEXED BY because without statistics the planner
// may prefer the status index and sort.
func purgeSQL(status ims.Status) string {
	age, index := "updated_at", "messages_"+string(status)+"_age"
	if status == ims.StatusSent {
		age = "sent_at"
	}
	return `DELETE FROM messages WHERE id IN (SELECT id FROM messages INDEXED BY ` + index + `
		WHERE status = '` + string(status) + `' AND ` + age + ` < ? ORDER BY ` + age + ` LIMIT ?)`
}

// PurgeMessages deletes up to limit messages in status that reached it
// before cut, with their attempts, in one short write transaction.
func (s *Store) PurgeMessages(ctx context.Context, status ims.Status, cut time.Time, limit int) (int, error) {
	if !ims.Purgeable(status) {
		return 0, ims.Errorf(ims.EINVALID, "messages in status %q are never purged", status)
	}
	if limit <= 0 {
		return 0, nil
	}
	return s.deleteBatch(ctx, string(status)+" messages", purgeSQL(status), micros(cut), limit)
}

// PurgeAudit deletes up to limit audit events created before cut, oldest
// first (audit_events_created_at).
func (s *Store) PurgeAudit(ctx context.Context, cut time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	return s.deleteBatch(ctx, "audit events", `DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE created_at < ? ORDER BY created_at LIMIT ?)`, micros(cut), limit)
}

// deleteBatch runs one retention DELETE (a single statement, atomic on its
// own) on the write connection and returns how many rows it removed.
func (s *Store) deleteBatch(ctx context.Context, what, query string, args ...any) (int, error) {
	res, err := s.write.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", what, err)
	}
	return int(n), nil
}
