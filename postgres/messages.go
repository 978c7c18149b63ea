package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/insiderone/ims"
)

func notFound(id string) error { return ims.Errorf(ims.ENOTFOUND, "message %s not found", id) }

// GetMessage returns one message, or ENOTFOUND (also for malformed IDs).
func (s *Store) GetMessage(ctx context.Context, id string) (_ ims.Message, err error) {
	defer classify(&err)
	canonical, ok := parseID(id)
	if !ok {
		return ims.Message{}, notFound(id)
	}
	row := s.pool.QueryRow(ctx, "SELECT "+messageCols("")+" FROM messages WHERE id = $1", canonical)
	m, err := scanMessage(row)
	if isNoRows(err) {
		return ims.Message{}, notFound(id)
	} else if err != nil {
		return ims.Message{}, fmt.Errorf("get message %s: %w", id, err)
	}
	return m, nil
}

// ListMessages returns messages newest first, the ID being the cursor. The
// query is built per filter so each shape gets its own plan and index
// ((status, id), (priority, id) for high and low, message_phones' key or the
// primary key) instead of one generic plan full of ORs. A phone filter walks
// message_phones (migration 00016) newest first and joins each message; its
// cursor is on that walk's column, so the index range starts at it.
func (s *Store) ListMessages(ctx context.Context, f ims.MessageFilter) (_ ims.MessagePage, err error) {
	defer classify(&err)
	if err := f.Validate(); err != nil {
		return ims.MessagePage{}, err
	}
	before, ok := normalizeID(f.Before)
	if f.Before != "" && !ok {
		return ims.MessagePage{}, ims.Errorf(ims.EINVALID, "invalid cursor %q", f.Before)
	}
	limit := ims.PageLimit(f.Limit)
	q, args := listSQL(f, before, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return ims.MessagePage{}, fmt.Errorf("list messages: %w", err)
	}
	msgs, err := collectMessages(rows, limit)
	if err != nil {
		return ims.MessagePage{}, fmt.Errorf("list messages: %w", err)
	}
	return ims.NewMessagePage(msgs, limit), nil
}

// listSQL builds ListMessages' query for f (before is its cursor,
// normalized) and its arguments.
func listSQL(f ims.MessageFilter, before string, limit int) (string, []any) {
	from, order := " FROM messages m", "m.id"
	var where []string
	var args []any
	if f.PhoneNumber != "" {
		args = append(args, f.PhoneNumber)
		from = fmt.Sprintf(" FROM message_phones p JOIN messages m ON m.id = p.message_id AND p.phone_number = $%d", len(args))
		order = "p.message_id"
	}
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, fmt.Sprintf("m.status = $%d", len(args)))
	}
	if f.Priority != "" {
		args = append(args, int16(f.Priority.Rank()))
		where = append(where, fmt.Sprintf("m.priority = $%d", len(args)))
		if f.Priority != ims.PriorityNormal {
			// The predicate of the partial index messages_priority_id_idx
			// (migration 00010), written out so that a generic plan can
			// prove it too. Normal, the default and most messages, walks
			// the primary key.
			where = append(where, "m."+priorityNotNormal)
		}
	}
	if f.DeliverySet {
		args = append(args, string(f.Delivery))
		where = append(where, fmt.Sprintf("m.delivery_status = $%d", len(args)))
	}
	if f.Before != "" {
		args = append(args, before)
		where = append(where, fmt.Sprintf("%s < $%d", order, len(args)))
	}
	args = append(args, limit)
	q := "SELECT " + messageCols("m") + from + whereClause(where) +
		fmt.Sprintf(" ORDER BY %s DESC LIMIT $%d", order, len(args))
	return q, args
}

// priorityNotNormal is the predicate of messages_priority_id_idx.
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
func (s *Store) ListAttempts(ctx context.Context, messageID string) (_ []ims.Attempt, err error) {
	defer classify(&err)
	out := []ims.Attempt{}
	id, ok := parseID(messageID)
	if !ok {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, message_id, number, status_code, latency_ns, error, response, outcome, created_at
		FROM delivery_attempts WHERE message_id = $1 AND outcome <> ALL($2::text[]) ORDER BY created_at, id`,
		id, ims.UnfinishedAttemptOutcomes)
	if err != nil {
		return nil, fmt.Errorf("list attempts of %s: %w", messageID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var a ims.Attempt
		var latency int64
		if err := rows.Scan(&a.ID, &a.MessageID, &a.Number, &a.StatusCode, &latency, &a.Error, &a.Response,
			&a.Outcome, &a.CreatedAt); err != nil {
			return nil, fmt.Errorf("list attempts of %s: scan: %w", messageID, err)
		}
		a.Latency = time.Duration(latency)
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attempts of %s: %w", messageID, err)
	}
	return out, nil
}

// CountByStatus returns how many messages are in each status, every status
// present. It sums the counters that migration 00017's triggers keep, a few
// hundred rows, instead of counting the table.
func (s *Store) CountByStatus(ctx context.Context) (_ map[ims.Status]int64, err error) {
	defer classify(&err)
	out := make(map[ims.Status]int64, len(ims.Statuses))
	for _, st := range ims.Statuses {
		out[st] = 0
	}
	rows, err := s.pool.Query(ctx, "SELECT status, sum(n)::bigint FROM message_counts GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("count messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st ims.Status
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count messages: scan: %w", err)
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count messages: %w", err)
	}
	return out, nil
}
