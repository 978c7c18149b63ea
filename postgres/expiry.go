package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// replayExpiredSQL applies ims.TransitionRevive: like a replay of a
// dead letter, with the new expiry $8.
var replayExpiredSQL = `WITH pick AS (SELECT $4::uuid AS id),
r AS (
	UPDATE messages m SET status = $5::text, attempts = 0, next_attempt_at = $1, last_error = '', updated_at = $1,
		expires_at = $8
	FROM pick WHERE m.id = pick.id AND m.status = ANY($6::text[])
	RETURNING m.*
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT $7::text, r.id::text, $2, $9, $1 FROM r
),
wake AS (
	SELECT pg_notify($3, '') FROM r LIMIT 1
)
SELECT ` + messageCols("r") + ` FROM r CROSS JOIN (SELECT count(*) FROM wake) w`

// ReplayWithExpiry moves an expired message back to pending, due now, with a
// new expiry.
func (s *Store) ReplayWithExpiry(ctx context.Context, id, actor string, expiresAt time.Time) (_ ims.Message, err error) {
	defer classify(&err)
	canonical, ok := parseID(id)
	if !ok {
		return ims.Message{}, notFound(id)
	}
	tr := ims.TransitionRevive
	m, err := scanMessage(s.pool.QueryRow(ctx, replayExpiredSQL, s.now(), actor, s.channel, canonical,
		string(tr.To), tr.FromStrings(), tr.Event, micro(expiresAt), ims.ReplayWithExpiryDetails(expiresAt)))
	if isNoRows(err) {
		return ims.Message{}, s.transitionRefused(ctx, id, tr)
	} else if err != nil {
		return ims.Message{}, fmt.Errorf("replay expired message %s: %w", id, err)
	}
	return m, nil
}

// expireSQL applies ims.TransitionExpire to up to $2 messages past their
// expiry $1 (ims.Expired): pending ones, and sending ones whose lease ran
// out (a claim's holder that is still working keeps its message until its
// outcome). It reads messages_expiry_idx; SKIP LOCKED leaves rows a claim
// or an outcome holds to them. The source statuses are literals (see
// statusIn) so that the index predicate is proven. A sending message's
// attempt row is closed as lease_expired: its claim never reported. $3
// target status, $4 event type, $5 details, $6 actor, $7 the in-flight
// outcome, $8 the lease-expired one.
var expireSQL = `/* ims: expire due */
WITH pick AS (
	SELECT id, status FROM messages
	WHERE ` + statusIn("status", ims.TransitionExpire.From) + ` AND expires_at IS NOT NULL AND expires_at <= $1
		AND (status = '` + string(ims.StatusPending) + `' OR next_attempt_at <= $1)
	ORDER BY expires_at LIMIT $2
	FOR UPDATE SKIP LOCKED
),
x AS (
	UPDATE messages m SET status = $3::text, updated_at = $1
	FROM pick WHERE m.id = pick.id
	RETURNING m.id
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT $4::text, x.id::text, $6, $5, $1 FROM x ORDER BY x.id
),
lost AS (
	UPDATE delivery_attempts a SET outcome = $8::text, created_at = $1
	FROM pick WHERE pick.status = '` + string(ims.StatusSending) + `' AND a.message_id = pick.id AND a.outcome = $7::text
)
SELECT count(*) FROM x`

// ExpireDue moves up to limit messages past their expiry to expired, with
// their message.expired events saying why, and returns how many it moved.
func (s *Store) ExpireDue(ctx context.Context, why ims.ExpiryReason, actor string, limit int) (_ int, err error) {
	defer classify(&err)
	if limit <= 0 {
		return 0, nil
	}
	tr := ims.TransitionExpire
	var n int
	if err := s.pool.QueryRow(ctx, expireSQL, s.now(), limit, string(tr.To), tr.Event,
		ims.ExpiredDecision(why).Reason, actor, ims.AttemptInFlight, ims.AttemptLeaseExpired).Scan(&n); err != nil {
		return 0, fmt.Errorf("expire messages: %w", err)
	}
	return n, nil
}
