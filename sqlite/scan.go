package sqlite

import (
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/insiderone/ims"
)

// messageColumns is the column list every message query selects, in the
// order scanMessage reads.
const messageColumns = `id, phone_number, content, status, idempotency_key, attempts, held, next_attempt_at,
	last_error, provider_message_id, send_at, sent_at, created_at, updated_at, priority, expires_at,
	encoding, segments, country, time_zone, quiet_hours,
	delivery_status, delivered_at, delivery_error_code, callback_url`

type scanner interface{ Scan(dest ...any) error }

// messageScanner reads rows of messageColumns into one set of
// destinations, built once per query: building them for every row (and
// the message and columns they point into, which then escaped) was a fifth
// of a SQLite drain's allocated bytes (docs/benchmarks.md, ninth session).
type messageScanner struct {
	m                      ims.Message
	key                    sql.NullString
	next, created, updated int64
	sendAt, sentAt         sql.NullInt64
	rank                   int
	expiresAt              sql.NullInt64
	deliveredAt            sql.NullInt64
	dest                   []any
}

func newMessageScanner() *messageScanner {
	s := &messageScanner{}
	m := &s.m
	s.dest = []any{&m.ID, &m.PhoneNumber, &m.Content, &m.Status, &s.key, &m.Attempts, &m.Held, &s.next,
		&m.LastError, &m.ProviderMessageID, &s.sendAt, &s.sentAt, &s.created, &s.updated, &s.rank, &s.expiresAt,
		&m.Encoding, &m.Segments, &m.Country, &m.TimeZone, &m.QuietHours,
		&m.DeliveryStatus, &s.deliveredAt, &m.ErrorCode, &m.CallbackURL}
	return s
}

// scan reads one row. Every destination is written by every scan, and the
// message is returned by value, so no row shares anything with the next.
func (s *messageScanner) scan(row scanner) (ims.Message, error) {
	if err := row.Scan(s.dest...); err != nil {
		return ims.Message{}, err
	}
	m := s.m
	m.IdempotencyKey = s.key.String
	m.NextAttemptAt = fromMicros(s.next)
	m.SendAt, m.SentAt = timePtr(s.sendAt), timePtr(s.sentAt)
	m.CreatedAt, m.UpdatedAt = fromMicros(s.created), fromMicros(s.updated)
	m.Priority, m.ExpiresAt = ims.PriorityOfRank(s.rank), timePtr(s.expiresAt)
	m.DeliveredAt = timePtr(s.deliveredAt)
	return m.WithSegments(), nil
}

// scanMessage reads one row of messageColumns.
func scanMessage(row scanner) (ims.Message, error) {
	return newMessageScanner().scan(row)
}

// scanMessages reads every row of rows; room is how many are expected.
func scanMessages(rows *sql.Rows, room int) ([]ims.Message, error) {
	defer rows.Close()
	msgs := make([]ims.Message, 0, room)
	s := newMessageScanner()
	for rows.Next() {
		m, err := s.scan(rows)
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
