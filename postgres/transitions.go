package postgres

import (
	"context"
	"fmt"

	"github.com/insiderone/ims"
)

// cancelSQL cancels only a pending message: the status test in the UPDATE
// makes it atomic against a concurrent claim.
var cancelSQL = `
WITH c AS (
	UPDATE messages SET status = 'canceled', updated_at = $2
	WHERE id = $1 AND status = 'pending'
	RETURNING *
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT 'message.canceled', id::text, $3, '', $2 FROM c
)
SELECT ` + messageCols("") + ` FROM c`

// CancelMessage moves a pending message to canceled.
func (s *Store) CancelMessage(ctx context.Context, id, actor string) (_ ims.Message, err error) {
	defer classify(&err)
	canonical, ok := normalizeID(id)
	if !ok {
		return ims.Message{}, notFound(id)
	}
	m, err := scanMessage(s.pool.QueryRow(ctx, cancelSQL, canonical, s.now(), actor))
	if isNoRows(err) {
		return ims.Message{}, s.transitionRefused(ctx, id, "only pending messages can be canceled")
	} else if err != nil {
		return ims.Message{}, fmt.Errorf("cancel message %s: %w", id, err)
	}
	return m, nil
}

// replayCTEs move the dead messages named by a "pick" CTE back to pending,
// due now, with a clean slate, and wake the pipeline. $1 now, $2 actor,
// $3 channel.
const replayCTEs = `
r AS (
	UPDATE messages m SET status = 'pending', attempts = 0, next_attempt_at = $1, last_error = '', updated_at = $1
	FROM pick WHERE m.id = pick.id AND m.status = 'dead'
	RETURNING m.*
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT 'message.replayed', r.id::text, $2, '', $1 FROM r ORDER BY r.id
),
wake AS (
	SELECT pg_notify($3, '') FROM r LIMIT 1
)`

var replayOneSQL = "WITH pick AS (SELECT $4::uuid AS id)," + replayCTEs +
	" SELECT " + messageCols("r") + " FROM r CROSS JOIN (SELECT count(*) FROM wake) w"

// Bulk replay locks with SKIP LOCKED, so two concurrent replays take
// disjoint sets instead of queueing behind each other.
var replayDeadSQL = `WITH pick AS (
	SELECT id FROM messages WHERE status = 'dead' ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED
),` + replayCTEs + " SELECT count(*) FROM r CROSS JOIN (SELECT count(*) FROM wake) w"

// ReplayMessage moves a dead message back to pending, due now.
func (s *Store) ReplayMessage(ctx context.Context, id, actor string) (_ ims.Message, err error) {
	defer classify(&err)
	canonical, ok := normalizeID(id)
	if !ok {
		return ims.Message{}, notFound(id)
	}
	m, err := scanMessage(s.pool.QueryRow(ctx, replayOneSQL, s.now(), actor, s.channel, canonical))
	if isNoRows(err) {
		return ims.Message{}, s.transitionRefused(ctx, id, "only dead messages can be replayed")
	} else if err != nil {
		return ims.Message{}, fmt.Errorf("replay message %s: %w", id, err)
	}
	return m, nil
}

// ReplayDeadLetters replays up to limit dead messages, oldest first.
func (s *Store) ReplayDeadLetters(ctx context.Context, actor string, limit int) (_ int, err error) {
	defer classify(&err)
	if limit <= 0 {
		return 0, nil
	}
	var n int
	if err := s.pool.QueryRow(ctx, replayDeadSQL, s.now(), actor, s.channel, limit).Scan(&n); err != nil {
		return 0, fmt.Errorf("replay dead letters: %w", err)
	}
	return n, nil
}

// transitionRefused explains why a guarded UPDATE matched nothing: the
// message is absent (ENOTFOUND) or in the wrong status (ECONFLICT).
func (s *Store) transitionRefused(ctx context.Context, id, rule string) error {
	m, err := s.GetMessage(ctx, id)
	if err != nil {
		return err
	}
	return ims.Errorf(ims.ECONFLICT, "message is %s, %s", m.Status, rule)
}
