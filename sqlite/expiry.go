package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// pickExpiredSQL selects what ims.TransitionExpire takes, oldest expiry
// first: pending messages past their expiry, and sending ones whose lease
// ran out after it (a claim still held keeps its message until its
// outcome). It reads the partial index messages_expiry, whose predicate the
// status literals prove (see statusIn). ?1 now, ?2 the limit.
var pickExpiredSQL = `SELECT id FROM messages INDEXED BY messages_expiry
	WHERE ` + statusIn("status", ims.TransitionExpire.From) + ` AND expires_at IS NOT NULL AND expires_at <= ?1
		AND (status = ` + quote(string(ims.StatusPending)) + ` OR next_attempt_at <= ?1)
	ORDER BY expires_at LIMIT ?2`

// ExpireDue moves up to limit messages past their expiry to expired, with
// their message.expired events, in one write transaction.
func (s *Store) ExpireDue(ctx context.Context, why ims.ExpiryReason, actor string, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	now := s.now()
	tr := ims.TransitionExpire
	details := ims.ExpiredDecision(why).Reason
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ids, err := queryIDs(ctx, tx, pickExpiredSQL, micros(now), limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		// Selected in this write transaction: they are still what the pick says.
		update, err := tx.PrepareContext(ctx, `UPDATE messages SET status = `+quote(string(tr.To))+`, updated_at = ?1
			WHERE id = ?2`)
		if err != nil {
			return fmt.Errorf("prepare expire: %w", err)
		}
		defer update.Close()
		audit, err := prepareAudit(ctx, tx)
		if err != nil {
			return err
		}
		defer audit.Close()
		// A sending message's claim never reported: its attempt row is
		// closed as lease_expired (a pending one has none in flight).
		closing, err := tx.PrepareContext(ctx, closeAttemptSQL)
		if err != nil {
			return fmt.Errorf("prepare attempt close: %w", err)
		}
		defer closing.Close()
		if err := eachRow(ctx, len(ids), func(ctx context.Context, i int) error {
			id := ids[i]
			if _, err := update.ExecContext(ctx, micros(now), id); err != nil {
				return fmt.Errorf("expire %s: %w", id, err)
			}
			if _, err := closing.ExecContext(ctx, ims.AttemptLeaseExpired, micros(now), id); err != nil {
				return fmt.Errorf("close attempt of %s: %w", id, err)
			}
			return audit.exec(ctx, tr.Event, id, actor, details, now)
		}); err != nil {
			return err
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expire messages: %w", err)
	}
	return n, nil
}

// ReplayWithExpiry moves an expired message back to pending, due now, with a
// new expiry: a replay of a dead letter that also sets expires_at.
func (s *Store) ReplayWithExpiry(ctx context.Context, id, actor string, expiresAt time.Time) (ims.Message, error) {
	key, err := normalizeID(id)
	if err != nil {
		return ims.Message{}, err
	}
	now := s.now()
	tr := ims.TransitionRevive
	var m ims.Message
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, `UPDATE messages SET status = `+quote(string(tr.To))+`, `+replayMove.set+`,
			expires_at = ?3 WHERE id = ?2 AND `+statusIn("status", tr.From)+` RETURNING `+messageColumns,
			micros(now), key, micros(expiresAt))
		got, err := scanMessage(row)
		if errors.Is(err, sql.ErrNoRows) {
			return whyNot(ctx, tx, id, key, tr)
		} else if err != nil {
			return fmt.Errorf("update message: %w", err)
		}
		m = got
		return insertAudit(ctx, tx, tr.Event, m.ID, actor, ims.ReplayWithExpiryDetails(expiresAt), now)
	})
	if err != nil {
		return ims.Message{}, fmt.Errorf("replay expired message: %w", err)
	}
	s.signal()
	return m, nil
}
