package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/insiderone/ims"
)

// deferSQL applies ims.DeferredClaim.Write to a batch: each still-current
// claim goes to its status (pending or expired) with its attempt refunded
// and next_attempt_at at the window's end, and gets its event. $7 is now,
// $8 the statuses a claim is current in, $9 the actor. Its attempt row is
// closed as deferred (no webhook call was made; the claimed event stays):
// $10 the in-flight outcome, $11 the deferred one.
const deferSQL = `/* ims: defer claims */
WITH input AS (
	SELECT * FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::text[])
		WITH ORDINALITY AS t(id, attempt, until, status, event, details, ord)
),
moved AS (
	UPDATE messages m SET status = i.status, attempts = m.attempts - 1, next_attempt_at = i.until, updated_at = $7
	FROM input i
	WHERE m.id = i.id AND m.status = ANY($8::text[]) AND m.attempts = i.attempt
	RETURNING m.id, i.attempt, i.event, i.details, i.ord
),
closed AS (
	UPDATE delivery_attempts a SET outcome = $11::text, created_at = $7
	FROM moved WHERE a.message_id = moved.id AND a.number = moved.attempt AND a.outcome = $10::text
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT event, id::text, $9, details, $7 FROM moved ORDER BY ord
)
SELECT count(*) FROM moved`

// DeferClaims hands claims back for quiet hours. See ims.DeliveryStore.
func (s *Store) DeferClaims(ctx context.Context, claims []ims.DeferredClaim, actor string) (err error) {
	defer classify(&err)
	var (
		ids                       []pgtype.UUID
		statuses, events, details []string
		attempts                  []int32
		until                     []time.Time
	)
	for _, d := range claims {
		id, ok := parseID(d.Claim.MessageID)
		if !ok {
			continue // a malformed claim cannot be current
		}
		tr, text := d.Write()
		ids, attempts = append(ids, id), append(attempts, int32(d.Claim.Attempt))
		until = append(until, d.Deferral.Until.UTC().Truncate(time.Microsecond))
		statuses, events, details = append(statuses, string(tr.To)), append(events, tr.Event), append(details, text)
	}
	if len(ids) == 0 {
		return nil
	}
	var n int
	if err := s.pool.QueryRow(ctx, deferSQL, ids, attempts, until, statuses, events, details, s.now(),
		ims.TransitionDefer.FromStrings(), actor, ims.AttemptInFlight, ims.AttemptDeferred).Scan(&n); err != nil {
		return fmt.Errorf("defer claims: %w", err)
	}
	return nil
}
