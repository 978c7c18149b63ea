package postgres

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/insiderone/ims"
)

// messageColumns is the column list every message query returns, in the
// order scanMessage reads it.
var messageColumns = []string{
	"id", "phone_number", "content", "status", "coalesce(idempotency_key, '')", "attempts", "held",
	"next_attempt_at", "last_error", "provider_message_id", "send_at", "sent_at", "created_at", "updated_at",
	"priority", "expires_at",
	// SMS-native (issue 10, parts 1-3)
	"encoding", "segments", "country", "time_zone", "quiet_hours",
	// Delivery reports and status callbacks (migration 00009).
	"delivery_status", "delivered_at", "delivery_error_code", "callback_url",
}

// messageCols returns messageColumns qualified with alias (e.g. "m").
func messageCols(alias string) string {
	if alias == "" {
		return strings.Join(messageColumns, ", ")
	}
	out := make([]string, len(messageColumns))
	for i, c := range messageColumns {
		if strings.HasPrefix(c, "coalesce(") {
			out[i] = "coalesce(" + alias + "." + strings.TrimPrefix(c, "coalesce(")
			continue
		}
		out[i] = alias + "." + c
	}
	return strings.Join(out, ", ")
}

// messageScanner reads rows of messageCols into one set of destinations,
// built once per query: building the 25 destinations for every row (and
// the message they point into, which then escaped) was the largest
// allocation of a claim, ahead of the strings the rows hold
// (docs/benchmarks.md, ninth session).
type messageScanner struct {
	m    ims.Message
	rank int16
	dest []any
}

// newMessageScanner makes a scanner of messageCols followed by extra
// destinations, which every scan fills in place.
func newMessageScanner(extra ...any) *messageScanner {
	s := &messageScanner{}
	m := &s.m
	s.dest = append([]any{
		&m.ID, &m.PhoneNumber, &m.Content, &m.Status, &m.IdempotencyKey, &m.Attempts, &m.Held,
		&m.NextAttemptAt, &m.LastError, &m.ProviderMessageID, &m.SendAt, &m.SentAt, &m.CreatedAt, &m.UpdatedAt,
		&s.rank, &m.ExpiresAt,
		&m.Encoding, &m.Segments, &m.Country, &m.TimeZone, &m.QuietHours,
		&m.DeliveryStatus, &m.DeliveredAt, &m.ErrorCode, &m.CallbackURL,
	}, extra...)
	return s
}

// scan reads one row. The message is cleared first, so that nothing of the
// previous row can carry over: the optional times are converted to UTC in
// place below, which is only safe on pointers this row's scan set.
func (s *messageScanner) scan(row pgx.Row) (ims.Message, error) {
	s.m = ims.Message{}
	if err := row.Scan(s.dest...); err != nil {
		return ims.Message{}, err
	}
	m := s.m
	m.NextAttemptAt = m.NextAttemptAt.UTC()
	m.CreatedAt = m.CreatedAt.UTC()
	m.UpdatedAt = m.UpdatedAt.UTC()
	// Each set pointer is this row's own (pgx allocated it into the
	// cleared message), so it is converted in place.
	for _, t := range []*time.Time{m.SendAt, m.SentAt, m.ExpiresAt, m.DeliveredAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	m.Priority = ims.PriorityOfRank(int(s.rank))
	return m.WithSegments(), nil
}

// scanMessage reads one row of messageCols, plus any extra destinations
// selected after them. A query of many rows scans them with one
// messageScanner instead.
func scanMessage(row pgx.Row, extra ...any) (ims.Message, error) {
	return newMessageScanner(extra...).scan(row)
}

// collectMessages scans every row of rows; room is how many are expected.
// It never returns a nil slice without an error.
func collectMessages(rows pgx.Rows, room int) ([]ims.Message, error) {
	defer rows.Close()
	out := make([]ims.Message, 0, room)
	scanner := newMessageScanner()
	for rows.Next() {
		m, err := scanner.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("scan message: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// normalizeID returns id in its canonical form, or false when it cannot be
// a UUID and so cannot name a message: callers answer "not found" instead of
// letting a SQL cast fail. SQLite, storing text, normalizes the same way.
func normalizeID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// parseID parses a message ID for binding as a uuid parameter. IDs are
// bound as pgtype.UUID, the one type pgx encodes as a binary uuid without
// reflection. A string it cannot: it first fails (formatting the whole value
// into an error), then sends the value as text for PostgreSQL to parse;
// on the check and outcome statements that was 2% of the process's CPU. A
// uuid.UUID goes through reflection and its driver.Valuer, 20 times slower
// still (docs/benchmarks.md).
func parseID(id string) (pgtype.UUID, bool) {
	u, err := uuid.Parse(id)
	return pgtype.UUID{Bytes: u, Valid: err == nil}, err == nil
}

// claimArrays splits claims into parallel arrays for unnest, dropping IDs
// that cannot exist.
func claimArrays(claims []ims.Claim) (ids []pgtype.UUID, attempts []int32, leases []*time.Time) {
	ids, attempts, leases = make([]pgtype.UUID, 0, len(claims)), make([]int32, 0, len(claims)), make([]*time.Time, 0, len(claims))
	for _, c := range claims {
		id, ok := parseID(c.MessageID)
		if !ok {
			continue // a malformed claim cannot be current
		}
		ids = append(ids, id)
		attempts = append(attempts, int32(c.Attempt))
		var lease *time.Time
		if !c.LeaseUntil.IsZero() {
			lease = microPtr(&c.LeaseUntil)
		}
		leases = append(leases, lease)
	}
	return ids, attempts, leases
}
