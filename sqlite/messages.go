package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/insiderone/ims"
)

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
	if f.Priority != "" {
		where, args = append(where, "priority = ?"), append(args, f.Priority.Rank())
		if f.Priority != ims.PriorityNormal {
			// The literal term proves the predicate of the partial index
			// messages_priority_id (migration 00010), which holds every
			// priority but normal. Normal, the default, is most messages:
			// walking the primary key finds a page of them at once.
			where = append(where, priorityNotNormal)
		}
	}
	if f.DeliverySet {
		where, args = append(where, "delivery_status = ?"), append(args, string(f.Delivery))
	}
	if f.PhoneNumber != "" {
		where, args = append(where, "phone_number = ?"), append(args, f.PhoneNumber)
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
	msgs, err := scanMessages(rows, limit)
	if err != nil {
		return ims.MessagePage{}, fmt.Errorf("list messages: %w", err)
	}
	return ims.NewMessagePage(msgs, limit), nil
}

// priorityNotNormal is the predicate of messages_priority_id.
var priorityNotNormal = "priority <> " + strconv.Itoa(ims.PriorityNormal.Rank())

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// ListAttempts returns a message's finished delivery attempts, oldest
// first: in the order they finished (an attempt row is written at its
// claim, migration 00013, and a stale outcome may finish after a newer
// one). An in-flight row, or one closed without an answer
// (ims.UnfinishedAttemptOutcomes), is no attempt of the API's.
func (s *Store) ListAttempts(ctx context.Context, messageID string) ([]ims.Attempt, error) {
	id, err := normalizeID(messageID)
	if err != nil {
		return []ims.Attempt{}, nil //nolint:nilerr // a malformed ID has no attempts
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, message_id, number, status_code, latency_ns, error,
		response, outcome, created_at FROM delivery_attempts WHERE message_id = ?
		AND outcome NOT IN (`+quoteList(ims.UnfinishedAttemptOutcomes)+`) ORDER BY created_at, id`, id)
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
