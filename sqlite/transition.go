package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// transition describes an operator's move of one message from one status.
type transition struct {
	from  ims.Status
	set   string // SET clause; its only parameter is now, as ?1
	event string
	// conflict is the ECONFLICT message, given the current status.
	conflict string
}

var (
	cancelTransition = transition{
		from:     ims.StatusPending,
		set:      `status = 'canceled', updated_at = ?1`,
		event:    ims.EventMessageCanceled,
		conflict: "message is %s, only pending messages can be canceled",
	}
	replayTransition = transition{
		from:     ims.StatusDead,
		set:      `status = 'pending', attempts = 0, next_attempt_at = ?1, last_error = '', updated_at = ?1`,
		event:    ims.EventMessageReplayed,
		conflict: "message is %s, only dead messages can be replayed",
	}
)

// CancelMessage moves a pending message to canceled.
func (s *Store) CancelMessage(ctx context.Context, id, actor string) (ims.Message, error) {
	m, err := s.apply(ctx, id, actor, cancelTransition)
	if err != nil {
		return ims.Message{}, fmt.Errorf("cancel message: %w", err)
	}
	return m, nil
}

// ReplayMessage moves a dead message back to pending, due now.
func (s *Store) ReplayMessage(ctx context.Context, id, actor string) (ims.Message, error) {
	m, err := s.apply(ctx, id, actor, replayTransition)
	if err != nil {
		return ims.Message{}, fmt.Errorf("replay message: %w", err)
	}
	s.signal()
	return m, nil
}

// apply runs tr on one message. The guarded UPDATE makes it atomic against a
// concurrent claim; only when it matches nothing do we look at why.
func (s *Store) apply(ctx context.Context, id, actor string, tr transition) (ims.Message, error) {
	key, err := normalizeID(id)
	if err != nil {
		return ims.Message{}, err
	}
	now := s.now()
	var m ims.Message
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, `UPDATE messages SET `+tr.set+` WHERE id = ?2 AND status = ?3
			RETURNING `+messageColumns, micros(now), key, tr.from)
		got, err := scanMessage(row)
		if errors.Is(err, sql.ErrNoRows) {
			return whyNot(ctx, tx, id, key, tr)
		} else if err != nil {
			return fmt.Errorf("update message: %w", err)
		}
		m = got
		return insertAudit(ctx, tx, tr.event, m.ID, actor, "", now)
	})
	return m, err
}

// whyNot returns ENOTFOUND or the transition's ECONFLICT for a message the
// transition did not match.
func whyNot(ctx context.Context, tx *sql.Tx, id, key string, tr transition) error {
	var status ims.Status
	err := tx.QueryRowContext(ctx, `SELECT status FROM messages WHERE id = ?`, key).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return ims.Errorf(ims.ENOTFOUND, "message %s not found", id)
	} else if err != nil {
		return fmt.Errorf("read status: %w", err)
	}
	return ims.Errorf(ims.ECONFLICT, tr.conflict, status)
}

// ReplayDeadLetters replays up to limit dead messages, oldest first; a limit
// of zero or less replays them all.
func (s *Store) ReplayDeadLetters(ctx context.Context, actor string, limit int) (int, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	now := s.now()
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ids, err := queryIDs(ctx, tx, `SELECT id FROM messages WHERE status = 'dead' ORDER BY id LIMIT ?`, limit)
		if err != nil {
			return err
		}
		n = len(ids)
		return replayIDs(ctx, tx, ids, actor, now)
	})
	if err != nil {
		return 0, fmt.Errorf("replay dead letters: %w", err)
	}
	if n > 0 {
		s.signal()
	}
	return n, nil
}

func replayIDs(ctx context.Context, tx *sql.Tx, ids []string, actor string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	update, err := tx.PrepareContext(ctx, `UPDATE messages SET `+replayTransition.set+` WHERE id = ?2`)
	if err != nil {
		return fmt.Errorf("prepare replay: %w", err)
	}
	defer update.Close()
	audit, err := prepareAudit(ctx, tx)
	if err != nil {
		return err
	}
	defer audit.Close()
	for _, id := range ids {
		if _, err := update.ExecContext(ctx, micros(now), id); err != nil {
			return fmt.Errorf("replay %s: %w", id, err)
		}
		if err := audit.exec(ctx, ims.EventMessageReplayed, id, actor, "", now); err != nil {
			return err
		}
	}
	return nil
}

func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("select ids: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("select ids: scan: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select ids: %w", err)
	}
	return ids, nil
}
