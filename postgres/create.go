package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/msgid"
)

// createSQL inserts a batch with its audit events and wakeup in ONE
// statement. It returns one row per input: the new message (created=true) or
// the earlier message holding the same idempotency key (created=false).
//
// Conflicts are settled inside the statement, because a statement is atomic
// and an explicit transaction would cost extra round trips:
//   - a visible earlier message with the same key but another phone/content
//     blocks the whole insert (the caller sees it and reports ECONFLICT);
//   - a key taken by a transaction that committed after this statement's
//     snapshot is skipped by ON CONFLICT yet invisible here, so the statement
//     aborts itself via ims_fail and the caller retries with a new snapshot.
//
// $12 holds each message's status (ims.CreatePlan: ims.TransitionCreate's
// target, or expired when quiet hours outlast its expiry) and $13 is
// ims.TransitionCreate's event type, $14 the priority ranks, $15 the
// expiries and $16 whether each is fixed (see ims.SameRequest); each
// message's audit actor is its own (ims.NewMessage.Actor). $17-$21 are the
// SMS-native fields, $22/$23 the event quiet hours add after
// message.created (empty for none), and $24 the callback URLs.
var createSQL = `/* ims: create messages */
WITH input AS (
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $11::text[],
		$14::smallint[], $15::timestamptz[], $16::bool[], $12::text[],
		$17::text[], $18::int[], $19::text[], $20::text[], $21::bool[], $22::text[], $23::text[],
		$24::text[])
		WITH ORDINALITY AS t(id, phone_number, content, send_at, idempotency_key, next_attempt_at, details, actor, idempotency_scope,
			priority, expires_at, expiry_fixed, status,
			encoding, segments, country, time_zone, quiet_hours, event2, details2,
			callback_url, ord)
),
existing AS (
	SELECT i.ord, m.* FROM input i
	JOIN messages m ON m.idempotency_scope = i.idempotency_scope AND m.idempotency_key = i.idempotency_key
),
-- The statement must know about a conflict before it inserts anything, so
-- this is ims.SameRequest in SQL; insertBatch applies ims.SameRequest itself
-- to what comes back, and the storetest suite holds the two to one answer.
conflict AS (
	SELECT EXISTS (
		SELECT 1 FROM existing e JOIN input i USING (ord)
		WHERE e.phone_number <> i.phone_number OR e.content <> i.content OR e.send_at IS DISTINCT FROM i.send_at
			OR e.priority <> i.priority OR (e.expires_at IS NULL) <> (i.expires_at IS NULL)
			OR (i.expiry_fixed AND e.expires_at <> i.expires_at) OR e.quiet_hours <> i.quiet_hours
			OR e.callback_url <> i.callback_url
	) AS found
),
-- Only keyed messages go through ON CONFLICT: a speculative insertion
-- writes one more WAL record per row (the confirmation), which a message
-- without a key, the common case, cannot need.
keyed AS (` + insertInput("idempotency_key IS NOT NULL",
	"ON CONFLICT (idempotency_scope, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING") + `),
unkeyed AS (` + insertInput("idempotency_key IS NULL", "") + `),
ins AS (SELECT * FROM keyed UNION ALL SELECT * FROM unkeyed),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT type, id, actor, details, $9 FROM (
		SELECT $13::text AS type, i.id::text AS id, i.actor, i.details, i.ord, 0 AS k FROM input i JOIN ins USING (id)
		UNION ALL
		SELECT i.event2, i.id::text, i.actor, i.details2, i.ord, 1 FROM input i JOIN ins USING (id) WHERE i.event2 <> ''
	) e ORDER BY ord, k
),
wake AS (
	SELECT pg_notify($10, '') FROM ins WHERE next_attempt_at <= $9 LIMIT 1
)
SELECT ` + mergedCols("n", "e") + `, i.ord, n.id IS NOT NULL
FROM input i
LEFT JOIN ins n ON n.id = i.id
LEFT JOIN existing e ON e.ord = i.ord
CROSS JOIN (SELECT count(*) FROM wake) w
WHERE CASE
	WHEN n.id IS NOT NULL OR e.ord IS NOT NULL THEN true
	WHEN (SELECT found FROM conflict) THEN false
	ELSE ims_fail('` + retryCreate + `')
END
ORDER BY i.ord`

// insertInput is createSQL's INSERT of the input rows that match where,
// unless the statement found a conflicting replay.
func insertInput(where, onConflict string) string {
	return `
	INSERT INTO messages (id, phone_number, content, status, idempotency_key, idempotency_scope, attempts,
		next_attempt_at, send_at, created_at, updated_at, priority, expires_at,
		encoding, segments, country, time_zone, quiet_hours, callback_url)
	SELECT id, phone_number, content, status, idempotency_key, idempotency_scope, 0, next_attempt_at, send_at, $9, $9,
		priority, expires_at,
		encoding, segments, country, time_zone, quiet_hours, callback_url
	FROM input WHERE ` + where + ` AND NOT (SELECT found FROM conflict) ORDER BY ord
	` + onConflict + `
	RETURNING *
`
}

// retryCreate is the ims_fail reason createSQL raises when it must be rerun.
const retryCreate = "ims: retry create"

// mergedCols selects messageColumns from whichever of two aliases has the row.
func mergedCols(a, b string) string {
	out := make([]string, len(messageColumns))
	for i, c := range messageColumns {
		if strings.HasPrefix(c, "coalesce(") {
			out[i] = fmt.Sprintf("coalesce(%[1]s.idempotency_key, %[2]s.idempotency_key, '')", a, b)
			continue
		}
		out[i] = fmt.Sprintf("coalesce(%[1]s.%[3]s, %[2]s.%[3]s)", a, b, c)
	}
	return strings.Join(out, ", ")
}

// createRetries bounds reruns of createSQL under concurrent inserts of the
// same idempotency key; each rerun sees the rows that forced it.
const createRetries = 3

// CreateMessages inserts msgs, their message.created events and a wakeup for
// due ones in one statement. See ims.MessageStore.
func (s *Store) CreateMessages(ctx context.Context, msgs []ims.NewMessage) (_ []ims.CreateResult, err error) {
	defer classify(&err)
	if len(msgs) == 0 {
		return []ims.CreateResult{}, nil
	}
	b, err := planCreate(msgs, s.now(), &s.ids)
	if err != nil {
		return nil, err
	}
	for range createRetries {
		results, err := s.insertBatch(ctx, b)
		if isFail(err, retryCreate) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.floors.resetIfBehind(b.unique, b.now)
		return b.expand(results), nil
	}
	return nil, fmt.Errorf("create messages: idempotency key contention persisted after %d attempts", createRetries)
}

// createBatch is a batch with duplicate keys folded onto their first use.
type createBatch struct {
	now    time.Time
	unique []ims.NewMessage
	ids    []pgtype.UUID
	// source[i] is the index in unique that msgs[i] resolves to; dup[i]
	// tells that msgs[i] repeated an earlier key of the same batch.
	source []int
	dup    []bool
}

// planCreate assigns IDs and folds in-batch duplicates: the first message
// with a key wins, later ones return it, or conflict if they differ.
func planCreate(msgs []ims.NewMessage, now time.Time, ids *msgid.Generator) (*createBatch, error) {
	b := &createBatch{now: now, source: make([]int, len(msgs)), dup: make([]bool, len(msgs))}
	first := make(map[scopedKey]int)
	for i, nm := range msgs {
		key := scopedKey{nm.IdempotencyScope, nm.IdempotencyKey}
		if j, ok := first[key]; ok && nm.IdempotencyKey != "" {
			if !ims.SameRequest(b.unique[j], nm) {
				return nil, ims.IdempotencyConflict()
			}
			b.source[i], b.dup[i] = j, true
			continue
		}
		id, err := ids.NewUUID(now)
		if err != nil {
			return nil, fmt.Errorf("create messages: %w", err)
		}
		if nm.IdempotencyKey != "" {
			first[key] = len(b.unique)
		}
		b.source[i] = len(b.unique)
		b.unique = append(b.unique, nm)
		b.ids = append(b.ids, pgtype.UUID{Bytes: id, Valid: true})
	}
	return b, nil
}

// scopedKey is an idempotency key in its key space.
type scopedKey struct {
	scope ims.IdempotencyScope
	key   string
}

// insertBatch runs createSQL and returns one result per unique message.
func (s *Store) insertBatch(ctx context.Context, b *createBatch) ([]ims.CreateResult, error) {
	n := len(b.unique)
	phones, contents := make([]string, n), make([]string, n)
	sendAts, nextAts := make([]*time.Time, n), make([]time.Time, n)
	keys, details, actors := make([]*string, n), make([]string, n), make([]string, n)
	scopes, ranks := make([]string, n), make([]int16, n)
	expiries, fixed := make([]*time.Time, n), make([]bool, n)
	sms := newSMSColumns(n)
	callbackURLs := make([]string, n)
	for i, nm := range b.unique {
		callbackURLs[i] = nm.CallbackURL
		ranks[i], expiries[i], fixed[i] = int16(nm.Priority.Rank()), microPtr(nm.ExpiresAt), nm.ExpiryFixed
		phones[i], contents[i], actors[i] = nm.PhoneNumber, nm.Content, nm.Actor
		scopes[i] = string(nm.IdempotencyScope)
		sendAts[i] = microPtr(nm.SendAt)
		nextAts[i] = sms.set(i, nm, b.now)
		details[i] = ims.CreatedDetails(sendAts[i])
		if nm.IdempotencyKey != "" {
			keys[i] = &nm.IdempotencyKey
		}
	}
	rows, err := s.pool.Query(ctx, createSQL, b.ids, phones, contents, sendAts, keys, nextAts, details, actors,
		b.now, s.channel, scopes, sms.statuses, ims.TransitionCreate.Event, ranks, expiries, fixed,
		sms.encodings, sms.segments, sms.countries, sms.zones, sms.quiet, sms.events, sms.eventDetails,
		callbackURLs)
	if err != nil {
		return nil, fmt.Errorf("create messages: %w", err)
	}
	defer rows.Close()
	results := make([]ims.CreateResult, 0, n)
	var ord int64
	var created bool
	scanner := newMessageScanner(&ord, &created)
	for rows.Next() {
		var r ims.CreateResult
		if r.Message, err = scanner.scan(rows); err != nil {
			return nil, fmt.Errorf("create messages: scan: %w", err)
		}
		r.Created = created
		if !r.Created && !ims.SameRequest(b.unique[ord-1], r.Message.Request()) {
			return nil, ims.IdempotencyConflict()
		}
		results = append(results, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("create messages: %w", err)
	}
	if len(results) != n {
		return nil, fmt.Errorf("create messages: got %d results for %d messages", len(results), n)
	}
	return results, nil
}

// expand maps results of unique messages back onto the caller's batch.
func (b *createBatch) expand(results []ims.CreateResult) []ims.CreateResult {
	out := make([]ims.CreateResult, len(b.source))
	for i, j := range b.source {
		out[i] = results[j]
		if b.dup[i] {
			out[i].Created = false
		}
	}
	return out
}

// isFail reports whether err is the ims_fail abort with reason.
func isFail(err error, reason string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "P0001" && pgErr.Message == reason
}
