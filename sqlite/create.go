package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/msgid"
)

// CreateMessages inserts msgs and their message.created events in one
// transaction, honouring idempotency keys.
func (s *Store) CreateMessages(ctx context.Context, msgs []ims.NewMessage) ([]ims.CreateResult, error) {
	if len(msgs) == 0 {
		return []ims.CreateResult{}, nil
	}
	now := s.now()
	var results []ims.CreateResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		results, err = createInTx(ctx, tx, msgs, now, &s.ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create messages: %w", err)
	}
	for _, r := range results {
		if r.Created && !r.Message.NextAttemptAt.After(now) {
			s.signal()
			break
		}
	}
	return results, nil
}

func createInTx(ctx context.Context, tx *sql.Tx, msgs []ims.NewMessage, now time.Time, ids *msgid.Generator) ([]ims.CreateResult, error) {
	// The status is a literal from the domain, not a parameter: the
	// statement runs once per row, and every bound value costs that row.
	tr := ims.TransitionCreate
	insert, err := tx.PrepareContext(ctx, `INSERT INTO messages (`+messageColumns+`, idempotency_scope)
		VALUES (?, ?, ?, `+quote(string(tr.To))+`, ?, 0, 0, ?, '', '', ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?,
		'', NULL, '', ?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("prepare insert: %w", err)
	}
	defer insert.Close()
	audit, err := prepareAudit(ctx, tx)
	if err != nil {
		return nil, err
	}
	defer audit.Close()

	results := make([]ims.CreateResult, len(msgs))
	byKey := map[scopedKey]ims.Message{} // keys seen in this batch or found stored
	err = eachRow(ctx, len(msgs), func(ctx context.Context, i int) error {
		nm := msgs[i]
		key := scopedKey{nm.IdempotencyScope, nm.IdempotencyKey}
		if nm.IdempotencyKey != "" {
			prev, found, err := earlier(ctx, tx, byKey, key)
			if err != nil {
				return err
			}
			if found {
				if !ims.SameRequest(nm, prev.Request()) {
					return ims.IdempotencyConflict()
				}
				results[i] = ims.CreateResult{Message: prev}
				return nil
			}
		}
		m, err := newMessage(nm, now, ids)
		if err != nil {
			return err
		}
		if _, err := insert.ExecContext(ctx, m.ID, m.PhoneNumber, m.Content, nullString(m.IdempotencyKey),
			micros(m.NextAttemptAt), nullMicros(m.SendAt), micros(now), micros(now), m.Priority.Rank(),
			nullMicros(m.ExpiresAt), string(m.Encoding), m.Segments, m.Country, m.TimeZone, m.QuietHours,
			m.CallbackURL, string(nm.IdempotencyScope)); err != nil {
			return fmt.Errorf("insert message: %w", err)
		}
		if err := audit.exec(ctx, tr.Event, m.ID, nm.Actor, ims.CreatedDetails(m.SendAt), now); err != nil {
			return err
		}
		if err := applyCreatePlan(ctx, tx, audit, &m, nm, now); err != nil {
			return err
		}
		if m.IdempotencyKey != "" {
			byKey[key] = m
		}
		results[i] = ims.CreateResult{Message: m, Created: true}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// scopedKey is an idempotency key in its key space.
type scopedKey struct {
	scope ims.IdempotencyScope
	key   string
}

// earlier finds the message an idempotency key already belongs to.
func earlier(ctx context.Context, tx *sql.Tx, byKey map[scopedKey]ims.Message, key scopedKey) (ims.Message, bool, error) {
	if m, ok := byKey[key]; ok {
		return m, true, nil
	}
	row := tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE idempotency_scope = ? AND idempotency_key = ?`, string(key.scope), key.key)
	m, err := scanMessage(row)
	if errors.Is(err, sql.ErrNoRows) {
		return ims.Message{}, false, nil
	} else if err != nil {
		return ims.Message{}, false, fmt.Errorf("find idempotency key: %w", err)
	}
	byKey[key] = m
	return m, true, nil
}

func newMessage(nm ims.NewMessage, now time.Time, ids *msgid.Generator) (ims.Message, error) {
	id, err := ids.New(now)
	if err != nil {
		return ims.Message{}, err
	}
	m := ims.Message{
		ID: id, PhoneNumber: nm.PhoneNumber, Content: nm.Content, Status: ims.TransitionCreate.To,
		IdempotencyKey: nm.IdempotencyKey, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		Priority:    ims.PriorityOfRank(nm.Priority.Rank()),
		CallbackURL: nm.CallbackURL,
	}
	if nm.ExpiresAt != nil {
		at := nm.ExpiresAt.UTC().Truncate(time.Microsecond)
		m.ExpiresAt = &at
	}
	if nm.SendAt != nil {
		at := nm.SendAt.UTC().Truncate(time.Microsecond)
		m.SendAt, m.NextAttemptAt = &at, at
	}
	setSMS(&m, nm, now)
	return m, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
