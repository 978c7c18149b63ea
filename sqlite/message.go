package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/insiderone/ims"
)

// messageColumns is the column list every message query selects, in the
// order scanMessage reads.
const messageColumns = `id, phone_number, content, status, idempotency_key, attempts, next_attempt_at,
	last_error, provider_message_id, send_at, sent_at, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanMessage(row scanner) (ims.Message, error) {
	var (
		m                      ims.Message
		key                    sql.NullString
		next, created, updated int64
		sendAt, sentAt         sql.NullInt64
	)
	err := row.Scan(&m.ID, &m.PhoneNumber, &m.Content, &m.Status, &key, &m.Attempts, &next,
		&m.LastError, &m.ProviderMessageID, &sendAt, &sentAt, &created, &updated)
	if err != nil {
		return ims.Message{}, err
	}
	m.IdempotencyKey = key.String
	m.NextAttemptAt = fromMicros(next)
	m.SendAt, m.SentAt = timePtr(sendAt), timePtr(sentAt)
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	return m, nil
}

func scanMessages(rows *sql.Rows) ([]ims.Message, error) {
	defer rows.Close()
	var msgs []ims.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("scan message: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	return msgs, nil
}

// normalizeID returns id in the stored form, or ENOTFOUND when it cannot be
// a message ID, so malformed IDs never reach SQL.
func normalizeID(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", ims.Errorf(ims.ENOTFOUND, "message %s not found", id)
	}
	return u.String(), nil
}

// CreateMessages inserts msgs and their message.created events in one
// transaction, honouring idempotency keys.
func (s *Store) CreateMessages(ctx context.Context, msgs []ims.NewMessage, actor string) ([]ims.CreateResult, error) {
	if len(msgs) == 0 {
		return []ims.CreateResult{}, nil
	}
	now := s.now()
	var results []ims.CreateResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		results, err = createInTx(ctx, tx, msgs, actor, now)
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

func createInTx(ctx context.Context, tx *sql.Tx, msgs []ims.NewMessage, actor string, now time.Time) ([]ims.CreateResult, error) {
	// The status is a literal from the domain, not a parameter: the
	// statement runs once per row, and every bound value costs that row.
	tr := ims.TransitionCreate
	insert, err := tx.PrepareContext(ctx, `INSERT INTO messages (`+messageColumns+`, idempotency_scope)
		VALUES (?, ?, ?, `+quote(string(tr.To))+`, ?, 0, ?, '', '', ?, NULL, ?, ?, ?)`)
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
	for i, nm := range msgs {
		key := scopedKey{nm.IdempotencyScope, nm.IdempotencyKey}
		if nm.IdempotencyKey != "" {
			prev, found, err := earlier(ctx, tx, byKey, key)
			if err != nil {
				return nil, err
			}
			if found {
				if !ims.SameRequest(nm, prev.Request()) {
					return nil, ims.IdempotencyConflict()
				}
				results[i] = ims.CreateResult{Message: prev}
				continue
			}
		}
		m, err := newMessage(nm, now)
		if err != nil {
			return nil, err
		}
		if _, err := insert.ExecContext(ctx, m.ID, m.PhoneNumber, m.Content, nullString(m.IdempotencyKey),
			micros(m.NextAttemptAt), nullMicros(m.SendAt), micros(now), micros(now), string(nm.IdempotencyScope)); err != nil {
			return nil, fmt.Errorf("insert message: %w", err)
		}
		who := actor
		if nm.Actor != "" {
			who = nm.Actor
		}
		if err := audit.exec(ctx, tr.Event, m.ID, who, ims.CreatedDetails(m.SendAt), now); err != nil {
			return nil, err
		}
		if m.IdempotencyKey != "" {
			byKey[key] = m
		}
		results[i] = ims.CreateResult{Message: m, Created: true}
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

func newMessage(nm ims.NewMessage, now time.Time) (ims.Message, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return ims.Message{}, fmt.Errorf("new message id: %w", err)
	}
	m := ims.Message{
		ID: id.String(), PhoneNumber: nm.PhoneNumber, Content: nm.Content, Status: ims.TransitionCreate.To,
		IdempotencyKey: nm.IdempotencyKey, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if nm.SendAt != nil {
		at := nm.SendAt.UTC().Truncate(time.Microsecond)
		m.SendAt, m.NextAttemptAt = &at, at
	}
	return m, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// GetMessage returns one message or ENOTFOUND.
func (s *Store) GetMessage(ctx context.Context, id string) (ims.Message, error) {
	key, err := normalizeID(id)
	if err != nil {
		return ims.Message{}, err
	}
	row := s.read.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = ?`, key)
	m, err := scanMessage(row)
	if errors.Is(err, sql.ErrNoRows) {
		return ims.Message{}, ims.Errorf(ims.ENOTFOUND, "message %s not found", id)
	} else if err != nil {
		return ims.Message{}, fmt.Errorf("get message: %w", err)
	}
	return m, nil
}

// ListMessages lists messages newest first, one page at a time.
func (s *Store) ListMessages(ctx context.Context, f ims.MessageFilter) (ims.MessagePage, error) {
	if err := f.Validate(); err != nil {
		return ims.MessagePage{}, err
	}
	var (
		where []string
		args  []any
	)
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.Before != "" {
		before, err := uuid.Parse(f.Before)
		if err != nil {
			return ims.MessagePage{}, ims.Errorf(ims.EINVALID, "invalid cursor %q", f.Before)
		}
		where, args = append(where, "id < ?"), append(args, before.String())
	}
	limit := ims.PageLimit(f.Limit)
	q := `SELECT ` + messageColumns + ` FROM messages` + whereClause(where) + ` ORDER BY id DESC LIMIT ?`
	rows, err := s.read.QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return ims.MessagePage{}, fmt.Errorf("list messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return ims.MessagePage{}, fmt.Errorf("list messages: %w", err)
	}
	return ims.NewMessagePage(msgs, limit), nil
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// ListAttempts returns a message's delivery attempts, oldest first.
func (s *Store) ListAttempts(ctx context.Context, messageID string) ([]ims.Attempt, error) {
	id, err := normalizeID(messageID)
	if err != nil {
		return []ims.Attempt{}, nil //nolint:nilerr // a malformed ID has no attempts
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, message_id, number, status_code, latency_ns, error,
		response, outcome, created_at FROM delivery_attempts WHERE message_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	attempts := []ims.Attempt{}
	for rows.Next() {
		var (
			a                  ims.Attempt
			latency, createdAt int64
		)
		if err := rows.Scan(&a.ID, &a.MessageID, &a.Number, &a.StatusCode, &latency, &a.Error,
			&a.Response, &a.Outcome, &createdAt); err != nil {
			return nil, fmt.Errorf("list attempts: scan: %w", err)
		}
		a.Latency = time.Duration(latency) // nanoseconds: see ims.Attempt.Latency
		a.CreatedAt = fromMicros(createdAt)
		attempts = append(attempts, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return attempts, nil
}

// CountByStatus returns how many messages are in each status.
func (s *Store) CountByStatus(ctx context.Context) (map[ims.Status]int64, error) {
	counts := make(map[ims.Status]int64, len(ims.Statuses))
	for _, st := range ims.Statuses {
		counts[st] = 0
	}
	rows, err := s.read.QueryContext(ctx, `SELECT status, COUNT(*) FROM messages GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			st ims.Status
			n  int64
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count messages: scan: %w", err)
		}
		counts[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count messages: %w", err)
	}
	return counts, nil
}
