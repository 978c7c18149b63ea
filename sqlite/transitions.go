package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/insiderone/ims"
)

// statusIn is the SQL condition "column IN (the statuses)" with the statuses
// written as literals. The literals are the domain's: the statements are
// built from the transitions. Two kinds of statement take them: those whose
// index must be chosen by the status (the claim reads the partial index
// messages_due, and INDEXED BY fails unless the WHERE proves its predicate;
// the bulk replay walks messages_status_id in id order), and those prepared
// once and run once per row (record, renew, release, create, bulk replay), where a bound
// value would cost every row. One-off statements bind them (statusParams).
func statusIn(column string, statuses []ims.Status) string {
	quoted := make([]string, len(statuses))
	for i, s := range statuses {
		quoted[i] = quote(string(s))
	}
	return column + " IN (" + strings.Join(quoted, ", ") + ")"
}

// quote writes s as an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// statusParams is "column IN (?n, ?n+1, ...)" for the statuses, and the
// statuses as the matching arguments.
func statusParams(column string, first int, statuses []ims.Status) (string, []any) {
	marks, args := make([]string, len(statuses)), make([]any, len(statuses))
	for i, s := range statuses {
		marks[i], args[i] = "?"+strconv.Itoa(first+i), string(s)
	}
	return column + " IN (" + strings.Join(marks, ", ") + ")", args
}

// move is an operator's transition with the columns it resets: set is the
// SET clause after the status, whose only parameter is now, as ?1.
type move struct {
	ims.Transition
	set string
}

var (
	cancelMove = move{Transition: ims.TransitionCancel, set: `updated_at = ?1`}
	replayMove = move{Transition: ims.TransitionReplay,
		set: `attempts = 0, held = 0, next_attempt_at = ?1, last_error = '', updated_at = ?1`}
)

// CancelMessage moves a pending message to canceled.
func (s *Store) CancelMessage(ctx context.Context, id, actor string) (ims.Message, error) {
	m, err := s.apply(ctx, id, actor, cancelMove)
	if err != nil {
		return ims.Message{}, fmt.Errorf("cancel message: %w", err)
	}
	return m, nil
}

// ReplayMessage moves a dead message back to pending, due now.
func (s *Store) ReplayMessage(ctx context.Context, id, actor string) (ims.Message, error) {
	m, err := s.apply(ctx, id, actor, replayMove)
	if err != nil {
		return ims.Message{}, fmt.Errorf("replay message: %w", err)
	}
	s.signal()
	return m, nil
}

// apply runs mv on one message. The guarded UPDATE makes it atomic against a
// concurrent claim; only when it matches nothing do we look at why.
func (s *Store) apply(ctx context.Context, id, actor string, mv move) (ims.Message, error) {
	key, err := normalizeID(id)
	if err != nil {
		return ims.Message{}, err
	}
	now := s.now()
	var m ims.Message
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		guard, from := statusParams("status", 4, mv.From)
		row := tx.QueryRowContext(ctx, `UPDATE messages SET status = ?3, `+mv.set+` WHERE id = ?2 AND `+guard+`
			RETURNING `+messageColumns, append([]any{micros(now), key, string(mv.To)}, from...)...)
		got, err := scanMessage(row)
		if errors.Is(err, sql.ErrNoRows) {
			return whyNot(ctx, tx, id, key, mv.Transition)
		} else if err != nil {
			return fmt.Errorf("update message: %w", err)
		}
		m = got
		return insertAudit(ctx, tx, mv.Event, m.ID, actor, "", now)
	})
	return m, err
}

// whyNot returns ENOTFOUND or the transition's ECONFLICT for a message the
// transition did not match.
func whyNot(ctx context.Context, tx *sql.Tx, id, key string, tr ims.Transition) error {
	var status ims.Status
	err := tx.QueryRowContext(ctx, `SELECT status FROM messages WHERE id = ?`, key).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return ims.Errorf(ims.ENOTFOUND, "message %s not found", id)
	} else if err != nil {
		return fmt.Errorf("read status: %w", err)
	}
	return tr.Refuse(status)
}

// pickDeadSQL selects the messages a bulk replay takes, oldest first.
var pickDeadSQL = `SELECT id FROM messages WHERE ` + statusIn("status", replayMove.From) + ` ORDER BY id LIMIT ?`

// ReplayDeadLetters replays up to limit dead messages, oldest first; a limit
// of zero or less means ims.DefaultReplayLimit.
func (s *Store) ReplayDeadLetters(ctx context.Context, actor string, limit int) (int, error) {
	limit = ims.ReplayLimit(limit)
	now := s.now()
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ids, err := queryIDs(ctx, tx, pickDeadSQL, limit)
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
	// The messages were selected in this write transaction: they are dead.
	// Run once per message, so the target status is a literal (see statusIn).
	update, err := tx.PrepareContext(ctx, `UPDATE messages SET status = `+quote(string(replayMove.To))+`, `+
		replayMove.set+` WHERE id = ?2`)
	if err != nil {
		return fmt.Errorf("prepare replay: %w", err)
	}
	defer update.Close()
	audit, err := prepareAudit(ctx, tx)
	if err != nil {
		return err
	}
	defer audit.Close()
	return eachRow(ctx, len(ids), func(ctx context.Context, i int) error {
		if _, err := update.ExecContext(ctx, micros(now), ids[i]); err != nil {
			return fmt.Errorf("replay %s: %w", ids[i], err)
		}
		return audit.exec(ctx, replayMove.Event, ids[i], actor, "", now)
	})
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
