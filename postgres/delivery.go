package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
)

// claimSQL applies ims.TransitionClaim to the due messages in one
// statement, highest priority first and oldest due first within one
// (ims.CompareClaimOrder). SKIP LOCKED makes concurrent claimers take
// disjoint rows instead of waiting or double claiming; a row updated after
// the snapshot is re-checked against the WHERE before it is locked, so it is
// never claimed unless still due. The source statuses are literals (see
// statusIn): they must match the predicate of the partial index
// messages_due_idx (priority, next_attempt_at, id).
//
// Each priority is read by its own range of that index, in a LATERAL per
// rank, and the outer LIMIT stops pulling once enough rows are locked: the
// due high messages come first, the normal ones are read only when the high
// ones do not fill the claim, and so on. One ORDER BY priority,
// next_attempt_at over the whole index would do as well for due rows, but
// would read through every not-yet-due row of a higher rank (scheduled
// messages, retries waiting) before reaching the next rank.
//
// A message past its expiry is never claimed (ims.Expired: at the instant
// itself it is expired); the sweeper moves it to expired.
//
// running gates the claim on the stored scheduler state. FOR SHARE makes a
// stop (an UPDATE of that row) wait for claims in flight, and a claim that
// meets an uncommitted stop wait for it and re-read the row, so every claim
// commits either before a stop or not at all: none after it.
//
// Each claim inserts its attempt row, in flight (migration 00013): the row
// is the claim's message.claimed event (see auditQuery), so no audit row is
// written. A message claimed again from sending lost its previous claim
// (its lease ran out, its holder never reported): that attempt row is
// closed as lease_expired, found by the (message_id, id) index, so it does
// not stay in flight; its claimed event stays.
//
// Each rank's walk starts at its floor ($8, one per rank in ims.Priorities
// order; the zero time for the front), so that it does not step over the
// dead entries earlier claims left before it (see claimFloors).
//
// $5 target status, $6 the in-flight outcome, $7 the outcome that closes a
// lost claim.
var claimSQL = `/* ims: claim due */
WITH running AS MATERIALIZED (
	SELECT 1 FROM scheduler_state WHERE id = 1 AND running FOR SHARE
),
due AS (
	SELECT d.id, d.priority, d.due_at, d.status FROM (VALUES ` + rankValues() + `) AS r(rank, floor)
	CROSS JOIN LATERAL (
		SELECT id, priority, next_attempt_at AS due_at, status FROM messages
		WHERE ` + statusIn("status", ims.TransitionClaim.From) + ` AND priority = r.rank
			AND next_attempt_at >= r.floor AND next_attempt_at <= $1
			AND (expires_at IS NULL OR expires_at > $1) AND EXISTS (SELECT 1 FROM running)
		ORDER BY next_attempt_at, id
		LIMIT $2
		FOR UPDATE SKIP LOCKED
	) d
	LIMIT $2
),
claimed AS (
	UPDATE messages m SET status = $5::text, attempts = m.attempts + 1, next_attempt_at = $3, updated_at = $1
	FROM due WHERE m.id = due.id
	RETURNING m.*, due.due_at
),
lost AS (
	UPDATE delivery_attempts a SET outcome = $7::text, created_at = $1
	FROM due WHERE due.status = '` + string(ims.StatusSending) + `' AND a.message_id = due.id AND a.outcome = $6::text
),
attempt AS (
	INSERT INTO delivery_attempts (message_id, number, outcome, claimed_at, claim_actor, created_at)
	SELECT c.id, c.attempts, $6::text, $1, $4, $1 FROM claimed c ORDER BY c.priority, c.due_at, c.id
)
SELECT ` + messageCols("") + `, due_at FROM claimed ORDER BY priority, due_at, id`

// rankValues lists the priority ranks, highest first, as VALUES rows, each
// with its floor from $8.
func rankValues() string {
	rows := make([]string, len(ims.Priorities))
	for i, p := range ims.Priorities {
		rows[i] = fmt.Sprintf("(%d::smallint, ($8::timestamptz[])[%d])", p.Rank(), i+1)
	}
	return strings.Join(rows, ", ")
}

// ClaimDue claims up to p.Limit due messages, oldest due first. It walks
// from the claim floors; when a floored walk comes back short, it walks
// again from the front for the rest, so that nothing due behind a floor
// waits while a claim has room for it (see claimFloors).
func (s *Store) ClaimDue(ctx context.Context, p ims.ClaimParams) (_ []ims.Message, err error) {
	defer classify(&err)
	if p.Limit <= 0 {
		return []ims.Message{}, nil
	}
	now := s.now()
	floors, gen, floored := s.floors.current(now)
	msgs, keys, err := s.claim(ctx, p, now, floors)
	if err != nil {
		return nil, err
	}
	switch {
	case len(msgs) == p.Limit:
		s.floors.advance(gen, now, keys)
	case floored:
		s.floors.reset()
		rest := p
		rest.Limit -= len(msgs)
		more, moreKeys, err := s.claim(ctx, rest, now, make([]time.Time, len(floors)))
		if err != nil {
			// The first walk's claims are committed: hand them out; the
			// rest waits for the next claim, which walks from the front.
			logging.OrDiscard(s.Logger).Warn("claim from the front of the queue failed", "err", err)
			return msgs, nil
		}
		msgs, keys = append(msgs, more...), append(keys, moreKeys...)
		sortByClaimOrder(msgs, keys)
	default:
		s.floors.reset()
	}
	return msgs, nil
}

// maxClaimRoom bounds the room a claim reserves for its rows before it
// knows how many are due.
const maxClaimRoom = 1024

// claim runs claimSQL once, walking each rank from its floor, and returns
// the claimed messages with their claim keys (the due time they were
// claimed at, which the claim replaces with the lease deadline).
func (s *Store) claim(ctx context.Context, p ims.ClaimParams, now time.Time, floors []time.Time) ([]ims.Message, []ims.ClaimKey, error) {
	tr := ims.TransitionClaim
	rows, err := s.pool.Query(ctx, claimSQL, now, p.Limit, micro(now.Add(p.Lease)), p.Actor,
		string(tr.To), ims.AttemptInFlight, ims.AttemptLeaseExpired, floors)
	if err != nil {
		return nil, nil, fmt.Errorf("claim messages: %w", err)
	}
	defer rows.Close()
	// Room for the whole claim up front: appending grew the slice of
	// messages (a few hundred bytes each) several times per claim.
	room := min(p.Limit, maxClaimRoom)
	msgs, keys := make([]ims.Message, 0, room), make([]ims.ClaimKey, 0, room)
	var due time.Time
	scanner := newMessageScanner(&due)
	for rows.Next() {
		m, err := scanner.scan(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("claim messages: scan: %w", err)
		}
		msgs = append(msgs, m)
		keys = append(keys, ims.ClaimKey{Priority: m.Priority, Due: due.UTC(), ID: m.ID})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("claim messages: %w", err)
	}
	return msgs, keys, nil
}

// sortByClaimOrder sorts msgs in claim order; keys[i] is msgs[i]'s key.
func sortByClaimOrder(msgs []ims.Message, keys []ims.ClaimKey) {
	type keyed struct {
		key ims.ClaimKey
		msg ims.Message
	}
	all := make([]keyed, len(msgs))
	for i := range msgs {
		all[i] = keyed{keys[i], msgs[i]}
	}
	slices.SortFunc(all, func(a, b keyed) int { return ims.CompareClaimOrder(a.key, b.key) })
	for i := range all {
		msgs[i] = all[i].msg
	}
}

// claimsCTE turns claim arrays ($1 ids, $2 attempts, $3 lease deadlines)
// into rows.
const claimsCTE = `c AS (
	SELECT * FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) WITH ORDINALITY AS t(id, attempt, lease_until, ord)
)`

// renewSQL applies ims.TransitionRenew: it extends the lease of
// still-current claims ($5 the statuses a current claim is in). A claim handed over
// with its deadline only renews while that deadline is unchanged, so the
// first of two consumers of the same queue entry wins. running gates it on
// the stored state as in claimSQL: no renewal commits after a stop.
var renewSQL = "/* ims: renew claims */ WITH " + claimsCTE + `,
running AS MATERIALIZED (
	SELECT 1 FROM scheduler_state WHERE id = 1 AND running FOR SHARE
),
renewed AS (
	UPDATE messages m SET next_attempt_at = $4
	FROM c
	WHERE m.id = c.id AND m.status = ANY($5::text[]) AND m.attempts = c.attempt
		AND (c.lease_until IS NULL OR m.next_attempt_at = c.lease_until)
		AND EXISTS (SELECT 1 FROM running)
	RETURNING m.*, c.ord
)
SELECT ` + messageCols("") + ` FROM renewed ORDER BY ord`

// RenewClaims renews the leases of the claims that are still current and
// returns those messages in the order of claims.
func (s *Store) RenewClaims(ctx context.Context, claims []ims.Claim, lease time.Duration) (_ []ims.Message, err error) {
	defer classify(&err)
	ids, attempts, leases := claimArrays(claims)
	if len(ids) == 0 {
		return []ims.Message{}, nil
	}
	rows, err := s.pool.Query(ctx, renewSQL, ids, attempts, leases, micro(s.now().Add(lease)),
		ims.TransitionRenew.FromStrings())
	if err != nil {
		return nil, fmt.Errorf("renew claims: %w", err)
	}
	msgs, err := collectMessages(rows, len(ids))
	if err != nil {
		return nil, fmt.Errorf("renew claims: %w", err)
	}
	return msgs, nil
}

// checkSQL selects what renewSQL would renew ($4 the statuses a current
// claim is in) and writes nothing. It reads the stored state without
// locking its row: a read gives no go-ahead that a stop committed before it
// began could miss, and nothing it returns commits later (renewSQL locks the
// row because its update commits after its snapshot was taken).
var checkSQL = "/* ims: check claims */ WITH " + claimsCTE + `
SELECT ` + messageCols("m") + `
FROM c JOIN messages m ON m.id = c.id
WHERE m.status = ANY($4::text[]) AND m.attempts = c.attempt
	AND (c.lease_until IS NULL OR m.next_attempt_at = c.lease_until)
	AND EXISTS (SELECT 1 FROM scheduler_state WHERE id = 1 AND running)
ORDER BY c.ord`

// CheckClaims returns the messages of the claims that are still current, in
// the order of claims, and writes nothing.
func (s *Store) CheckClaims(ctx context.Context, claims []ims.Claim) (_ []ims.Message, err error) {
	defer classify(&err)
	ids, attempts, leases := claimArrays(claims)
	if len(ids) == 0 {
		return []ims.Message{}, nil
	}
	rows, err := s.pool.Query(ctx, checkSQL, ids, attempts, leases, ims.TransitionRenew.FromStrings())
	if err != nil {
		return nil, fmt.Errorf("check claims: %w", err)
	}
	msgs, err := collectMessages(rows, len(ids))
	if err != nil {
		return nil, fmt.Errorf("check claims: %w", err)
	}
	return msgs, nil
}

// releaseSQL applies ims.TransitionRelease: it hands still-current claims
// back, due now, as if the attempt never started, and wakes the pipeline to
// claim them again. Its attempt row is closed as released (no webhook call
// was made; the claimed event stays). $7 target status, $8 allowed sources,
// $9 event type, $10 details format (the attempt number), $11 the in-flight
// outcome, $12 the released one.
var releaseSQL = "/* ims: release claims */ WITH " + claimsCTE + `,
released AS (
	UPDATE messages m SET status = $7::text, attempts = m.attempts - 1, next_attempt_at = $4, updated_at = $4
	FROM c
	WHERE m.id = c.id AND m.status = ANY($8::text[]) AND m.attempts = c.attempt
	RETURNING m.id, c.attempt, c.ord
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT $9::text, r.id::text, $5, format($10::text, r.attempt), $4
	FROM released r ORDER BY r.ord
),
closed AS (
	UPDATE delivery_attempts a SET outcome = $12::text, created_at = $4
	FROM released r WHERE a.message_id = r.id AND a.number = r.attempt AND a.outcome = $11::text
),
wake AS (
	SELECT pg_notify($6, '') FROM released LIMIT 1
)
SELECT count(*) FROM released CROSS JOIN (SELECT count(*) FROM wake) w`

// ReleaseClaims returns still-current claims to pending, due now, without
// counting the attempt.
func (s *Store) ReleaseClaims(ctx context.Context, claims []ims.Claim) (err error) {
	defer classify(&err)
	ids, attempts, leases := claimArrays(claims)
	if len(ids) == 0 {
		return nil
	}
	var n int
	tr := ims.TransitionRelease
	err = s.pool.QueryRow(ctx, releaseSQL, ids, attempts, leases, s.now(), ims.ActorSystem, s.channel,
		string(tr.To), tr.FromStrings(), tr.Event, tr.Details, ims.AttemptInFlight, ims.AttemptReleased).Scan(&n)
	if err != nil {
		return fmt.Errorf("release claims: %w", err)
	}
	return nil
}
