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

func scanMessage(row scanner) (ims.Message, error) {
	var (
		m                      ims.Message
		key                    sql.NullString
		next, created, updated int64
		sendAt, sentAt         sql.NullInt64
		rank                   int
		expiresAt              sql.NullInt64
		deliveredAt            sql.NullInt64
	)
	err := row.Scan(&m.ID, &m.PhoneNumber, &m.Content, &m.Status, &key, &m.Attempts, &m.Held, &next,
		&m.LastError, &m.ProviderMessageID, &sendAt, &sentAt, &created, &updated, &rank, &expiresAt,
		&m.Encoding, &m.Segments, &m.Country, &m.TimeZone, &m.QuietHours,
		&m.DeliveryStatus, &deliveredAt, &m.ErrorCode, &m.CallbackURL)
	if err != nil {
		return ims.Message{}, err
	}
	m.IdempotencyKey = key.String
	m.NextAttemptAt = fromMicros(next)
	m.SendAt, m.SentAt = timePtr(sendAt), timePtr(sentAt)
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	m.Priority, m.ExpiresAt = ims.PriorityOfRank(rank), timePtr(expiresAt)
	m.DeliveredAt = timePtr(deliveredAt)
	return m.WithSegments(), nil
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
