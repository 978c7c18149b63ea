package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/msgid"
)

// pickPurgeSQL selects one batch of final messages to delete; their attempts
// go with them (ON DELETE CASCADE, foreign keys are on). Canceled, dead and
// expired each read their own partial index by age (migrations 00004,
// 00006); INDEXED BY because without statistics the planner may prefer the
// status index and sort. Sent, most of the table, has no such index
// (migration 00015): it walks messages_status_id in ID order up to the cut's
// ID bound (msgid.Bound) and checks sent_at there.
func pickPurgeSQL(status ims.Status, cut time.Time, limit int) (string, []any) {
	if status == ims.StatusSent {
		return `SELECT id FROM messages INDEXED BY messages_status_id
		WHERE status = 'sent' AND id < ? AND sent_at < ? ORDER BY id LIMIT ?`,
			[]any{msgid.Bound(cut), micros(cut), limit}
	}
	return `SELECT id FROM messages INDEXED BY messages_` + string(status) + `_age
		WHERE status = '` + string(status) + `' AND updated_at < ? ORDER BY updated_at LIMIT ?`,
		[]any{micros(cut), limit}
}

// PurgeMessages deletes up to limit messages in status that reached it
// before cut, with their attempts, in one short write transaction. The
// claimed and sent events the deleted attempt rows stood for (migration
// 00013) outlive them, as stored events outlive their message: they are
// stored in audit_events with the IDs they were listed under, unless the
// last audit purge already counts them as purged (auditHorizon).
func (s *Store) PurgeMessages(ctx context.Context, status ims.Status, cut time.Time, limit int) (int, error) {
	if !ims.Purgeable(status) {
		return 0, ims.Errorf(ims.EINVALID, "messages in status %q are never purged", status)
	}
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		pick, args := pickPurgeSQL(status, cut, limit)
		ids, err := queryIDs(ctx, tx, pick, args...)
		if err != nil || len(ids) == 0 {
			return err
		}
		list, err := json.Marshal(ids)
		if err != nil {
			return fmt.Errorf("encode ids: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (id, type, message_id, actor, details, created_at)
			SELECT `+claimedEventCols+` FROM delivery_attempts a
			WHERE a.message_id IN (SELECT value FROM json_each(?1)) AND a.claimed_at >= `+auditHorizon+`
			UNION ALL
			SELECT `+sentEventCols+` FROM delivery_attempts a
			WHERE a.message_id IN (SELECT value FROM json_each(?1)) AND a.sent_event AND a.created_at >= `+auditHorizon,
			string(list)); err != nil {
			return fmt.Errorf("keep the events of the attempts: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))`, string(list))
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		deleted, err := res.RowsAffected()
		n = int(deleted)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge %s messages: %w", status, err)
	}
	return n, nil
}

// PurgeAudit deletes up to limit audit events created before cut, oldest
// first (audit_events_created_at), and moves the audit horizon to cut: the
// synthesised events older than it count as purged from now on (see
// auditQuery). They are not counted in the result.
func (s *Store) PurgeAudit(ctx context.Context, cut time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE audit_horizon SET purged_before = ?1
			WHERE id = 1 AND purged_before < ?1`, micros(cut)); err != nil {
			return fmt.Errorf("move the horizon: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE created_at < ? ORDER BY created_at LIMIT ?)`, micros(cut), limit)
		if err != nil {
			return err
		}
		deleted, err := res.RowsAffected()
		n = int(deleted)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge audit events: %w", err)
	}
	return n, nil
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
