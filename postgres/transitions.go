package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/insiderone/ims"
)

// statusIn is the SQL condition "column IN (the statuses)" with the statuses
// written as literals. The claim and the bulk replay need literals: their
// plans rest on indexes whose predicate or leading column is the status
// (messages_due_idx is partial on status IN ('pending', 'sending')), and a
// generic plan for a parameter cannot prove a partial index's predicate nor
// use a one-element array as an equality. The literals are still the
// domain's: the statement is built from the transition at init.
func statusIn(column string, statuses []ims.Status) string {
	quoted := make([]string, len(statuses))
	for i, s := range statuses {
		quoted[i] = "'" + strings.ReplaceAll(string(s), "'", "''") + "'"
	}
	return column + " IN (" + strings.Join(quoted, ", ") + ")"
}

// cancelSQL applies ims.TransitionCancel: the status test in the UPDATE
// makes it atomic against a concurrent claim. $4 target status, $5 allowed
// sources, $6 event type.
var cancelSQL = `
WITH c AS (
	UPDATE messages SET status = $4::text, updated_at = $2
	WHERE id = $1 AND status = ANY($5::text[])
	RETURNING *
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT $6::text, id::text, $3, '', $2 FROM c
)
SELECT ` + messageCols("") + ` FROM c`

// CancelMessage moves a pending message to canceled.
func (s *Store) CancelMessage(ctx context.Context, id, actor string) (_ ims.Message, err error) {
	defer classify(&err)
	canonical, ok := parseID(id)
	if !ok {
		return ims.Message{}, notFound(id)
	}
	tr := ims.TransitionCancel
	m, err := scanMessage(s.pool.QueryRow(ctx, cancelSQL, canonical, s.now(), actor, string(tr.To), tr.FromStrings(), tr.Event))
	if isNoRows(err) {
		return ims.Message{}, s.transitionRefused(ctx, id, tr)
	} else if err != nil {
		return ims.Message{}, fmt.Errorf("cancel message %s: %w", id, err)
	}
	return m, nil
}

// replayCTEs apply ims.TransitionReplay to the messages named by a "pick"
// CTE: back to pending, due now, with a clean slate, and wake the pipeline.
// $1 now, $2 actor, $3 channel, $5 target status, $6 allowed sources, $7
// event type.
const replayCTEs = `
r AS (
	UPDATE messages m SET status = $5::text, attempts = 0, held = 0, next_attempt_at = $1, last_error = '', updated_at = $1
	FROM pick WHERE m.id = pick.id AND m.status = ANY($6::text[])
	RETURNING m.*
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT $7::text, r.id::text, $2, '', $1 FROM r ORDER BY r.id
),
wake AS (
	SELECT pg_notify($3, '') FROM r LIMIT 1
)`

var replayOneSQL = "WITH pick AS (SELECT $4::uuid AS id)," + replayCTEs +
	" SELECT " + messageCols("r") + " FROM r CROSS JOIN (SELECT count(*) FROM wake) w"

// Bulk replay locks with SKIP LOCKED, so two concurrent replays take
// disjoint sets instead of queueing behind each other. The source status is
// a literal (see statusIn): it walks messages_status_id_idx in id order.
var replayDeadSQL = `WITH pick AS (
	SELECT id FROM messages WHERE ` + statusIn("status", ims.TransitionReplay.From) + `
	ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED
),` + replayCTEs + " SELECT count(*) FROM r CROSS JOIN (SELECT count(*) FROM wake) w"

// ReplayMessage moves a dead message back to pending, due now.
func (s *Store) ReplayMessage(ctx context.Context, id, actor string) (_ ims.Message, err error) {
	defer classify(&err)
	canonical, ok := parseID(id)
	if !ok {
		return ims.Message{}, notFound(id)
	}
	tr := ims.TransitionReplay
	m, err := scanMessage(s.pool.QueryRow(ctx, replayOneSQL, s.now(), actor, s.channel, canonical,
		string(tr.To), tr.FromStrings(), tr.Event))
	if isNoRows(err) {
		return ims.Message{}, s.transitionRefused(ctx, id, tr)
	} else if err != nil {
		return ims.Message{}, fmt.Errorf("replay message %s: %w", id, err)
	}
	return m, nil
}

// ReplayDeadLetters replays up to limit dead messages, oldest first; a limit
// of zero or less means ims.DefaultReplayLimit.
func (s *Store) ReplayDeadLetters(ctx context.Context, actor string, limit int) (_ int, err error) {
	defer classify(&err)
	tr := ims.TransitionReplay
	var n int
	if err := s.pool.QueryRow(ctx, replayDeadSQL, s.now(), actor, s.channel, ims.ReplayLimit(limit),
		string(tr.To), tr.FromStrings(), tr.Event).Scan(&n); err != nil {
		return 0, fmt.Errorf("replay dead letters: %w", err)
	}
	return n, nil
}

// transitionRefused explains why a guarded UPDATE matched nothing: the
// message is absent (ENOTFOUND) or in the wrong status (ECONFLICT).
func (s *Store) transitionRefused(ctx context.Context, id string, tr ims.Transition) error {
	m, err := s.GetMessage(ctx, id)
	if err != nil {
		return err
	}
	return tr.Refuse(m.Status)
}
