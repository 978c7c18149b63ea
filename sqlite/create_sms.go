package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// setSMS copies the SMS-native fields onto a new message, with the due
// time quiet hours decided (ims.CreatePlan).
func setSMS(m *ims.Message, nm ims.NewMessage, now time.Time) {
	m.Encoding, m.Segments, m.Country, m.TimeZone = nm.Encoding, nm.Segments, nm.Country, nm.TimeZone
	m.QuietHours = !nm.QuietHoursOptOut
	m.NextAttemptAt = nm.PlanCreate(now).Due
	if m.Segments == 0 {
		*m = m.WithSegments() // built by hand: read back as it will be
	}
}

// applyCreatePlan writes what quiet hours add to a create, after the insert
// and its message.created event: a message.deferred event, or the move to
// expired with its message.expired event. The common case (nothing) costs
// nothing; the rare expiry is a second statement rather than a bound
// status on every insert.
func applyCreatePlan(ctx context.Context, tx *sql.Tx, audit auditStmt, m *ims.Message, nm ims.NewMessage, now time.Time) error {
	p := nm.PlanCreate(now)
	if p.Event == "" {
		return nil
	}
	if p.Status != m.Status {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = ? WHERE id = ?`, string(p.Status), m.ID); err != nil {
			return fmt.Errorf("expire message %s at create: %w", m.ID, err)
		}
		m.Status = p.Status
	}
	return audit.exec(ctx, p.Event, m.ID, nm.Actor, p.EventDetails, now)
}
