package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/insiderone/ims"
)

// claimDueSQL selects the messages ims.TransitionClaim takes: highest
// priority first, oldest due first within one (ims.CompareClaimOrder). The
// ranks are an IN list on the leading column of the partial due index
// (priority, next_attempt_at, id, expires_at): SQLite reads one range of it
// per rank, in rank order, each already in claim order, so the ORDER BY
// needs no sort and the LIMIT stops the scan once it is met. A backlog of
// low messages is never read while higher ones fill the claim, and
// not-yet-due rows of one priority never stand before the next. One range
// scan of one index, where a UNION ALL of one subquery per rank cost 40%
// more VM steps (see docs/benchmarks.md). expires_at is the index's last
// column, so the expiry test (ims.Expired: an expired message is never
// claimed; the sweeper moves it) reads no table row. INDEXED BY: without
// statistics the planner prefers the status index and sorts. The source
// statuses and ranks are literals (see statusIn), or SQLite could not prove
// the index's predicate and would refuse the statement. The state is read
// in the write transaction, so a stop (also a write) commits either before
// this claim, which then finds nothing, or after it. It returns each row's
// rowid besides its ID, both from the index: the claim's UPDATE and INSERT
// find the rows by rowid, one B-tree descent of the table each, where an ID
// costs a descent of the ID index first. A rowid of this table can change
// only with VACUUM, never within the transaction that reads it here.
// ?1 now, ?2 the limit.
var claimDueSQL = `SELECT rowid, id FROM messages INDEXED BY messages_due
	WHERE ` + statusIn("status", ims.TransitionClaim.From) + ` AND priority IN (` + rankList() + `)
		AND next_attempt_at <= ?1 AND (expires_at IS NULL OR expires_at > ?1)
		AND EXISTS (SELECT 1 FROM scheduler_state WHERE id = 1 AND running)
	ORDER BY priority, next_attempt_at, id LIMIT ?2`

// rankList is every priority's rank, as SQL integer literals.
func rankList() string {
	ranks := make([]string, len(ims.Priorities))
	for i, p := range ims.Priorities {
		ranks[i] = strconv.Itoa(p.Rank())
	}
	return strings.Join(ranks, ", ")
}

// ClaimDue moves up to p.Limit due messages to sending, oldest due first.
// The write transaction holds SQLite's write lock from its start, so two
// claimers can never pick the same message.
func (s *Store) ClaimDue(ctx context.Context, p ims.ClaimParams) ([]ims.Message, error) {
	if p.Limit <= 0 {
		return []ims.Message{}, nil
	}
	now := s.now()
	var claimed []ims.Message
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		due, err := queryDue(ctx, tx, micros(now), p.Limit)
		if err != nil || len(due.ids) == 0 {
			return err
		}
		claimed, err = claimDue(ctx, tx, due, p, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	if claimed == nil {
		claimed = []ims.Message{}
	}
	return claimed, nil
}

// claimUpdateSQL moves the rows of a JSON list of rowids to sending. ?1 the
// status, ?2 the lease deadline, ?3 now, ?4 the list.
var claimUpdateSQL = `UPDATE messages
	SET status = ?1, attempts = attempts + 1, next_attempt_at = ?2, updated_at = ?3
	WHERE rowid IN (SELECT value FROM json_each(?4)) RETURNING ` + messageColumns

// claimAttemptsSQL inserts the in-flight attempt rows of a JSON list of
// rowids (see insertClaimAttempts). Each row's ID comes from its place in
// the list, so the statement needs no ORDER BY (a sort of the batch):
// json_each yields the list in order, and the IDs would be the same in any.
// ?1 the outcome, ?2 now, ?3 the actor, ?4 the list.
const claimAttemptsSQL = `INSERT INTO delivery_attempts
	(id, message_id, number, outcome, claimed_at, claim_actor, created_at)
	SELECT ` + nextEventIDSQL + ` + 2 * j.key, m.id, m.attempts, ?1, ?2, ?3, ?2
	FROM json_each(?4) AS j JOIN messages AS m ON m.rowid = j.value`

// dueRows are the rows a claim selected, in claim order: their rowids and
// their message IDs.
type dueRows struct {
	rowids []int64
	ids    []string
}

func queryDue(ctx context.Context, tx *sql.Tx, now int64, limit int) (dueRows, error) {
	var due dueRows
	rows, err := tx.QueryContext(ctx, claimDueSQL, now, limit)
	if err != nil {
		return due, fmt.Errorf("select due: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rowid int64
			id    string
		)
		if err := rows.Scan(&rowid, &id); err != nil {
			return due, fmt.Errorf("select due: scan: %w", err)
		}
		due.rowids, due.ids = append(due.rowids, rowid), append(due.ids, id)
	}
	if err := rows.Err(); err != nil {
		return due, fmt.Errorf("select due: %w", err)
	}
	return due, nil
}

// claimDue claims the selected messages with one UPDATE and one INSERT of
// their attempt rows, in flight, and returns them in claim order. The
// attempt row is the claim's message.claimed event (migration 00013, see
// auditQuery): no audit row is written. The attempt rows of lost claims are
// closed as lease_expired first (their claimed events stay).
func claimDue(ctx context.Context, tx *sql.Tx, due dueRows, p ims.ClaimParams, now time.Time) ([]ims.Message, error) {
	ids := due.ids
	list, err := json.Marshal(due.rowids)
	if err != nil {
		return nil, fmt.Errorf("encode rowids: %w", err)
	}
	tr := ims.TransitionClaim
	rows, err := tx.QueryContext(ctx, claimUpdateSQL, string(tr.To), micros(now.Add(p.Lease)), micros(now), string(list))
	if err != nil {
		return nil, fmt.Errorf("update claimed: %w", err)
	}
	msgs, err := scanMessages(rows, len(ids))
	if err != nil {
		return nil, err
	}
	// RETURNING has no defined order: restore the claim order.
	pos := make(map[string]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	ordered := make([]ims.Message, len(ids))
	// A lost claim (its lease ran out, its holder never reported) counted
	// an attempt, so only a message claimed for the second time or later
	// may have an attempt row in flight: a first claim costs no probe, and
	// the due index stays the only thing the selection reads.
	var again []string
	for _, m := range msgs {
		ordered[pos[m.ID]] = m
		if m.Attempts > 1 {
			again = append(again, m.ID)
		}
	}
	if err := closeLostAttempts(ctx, tx, again, now); err != nil {
		return nil, err
	}
	if err := insertClaimAttempts(ctx, tx, string(list), len(ids), p.Actor, now); err != nil {
		return nil, err
	}
	return ordered, nil
}

// insertClaimAttempts writes the in-flight attempt rows of the claimed
// messages (a JSON list of n rowids, in claim order). IDs: two per attempt from
// audit_events' counter (ims.ClaimedEventID, ims.SentEventID), which then
// moves past them; SQLite's one writer makes the read and the move atomic.
func insertClaimAttempts(ctx context.Context, tx *sql.Tx, list string, n int, actor string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, claimAttemptsSQL, ims.AttemptInFlight, micros(now), actor, list); err != nil {
		return fmt.Errorf("insert claim attempts: %w", err)
	}
	return takeEventIDs(ctx, tx, n)
}

// nextEventIDSQL is the next free audit event ID.
const nextEventIDSQL = `(SELECT seq + 1 FROM sqlite_sequence WHERE name = 'audit_events')`

// takeEventIDs moves audit_events' counter past 2·n IDs taken from it.
func takeEventIDs(ctx context.Context, tx *sql.Tx, n int) error {
	if _, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'audit_events'`, 2*n); err != nil {
		return fmt.Errorf("take audit event ids: %w", err)
	}
	return nil
}

// closeLostAttempts closes the in-flight attempt rows of the messages ids,
// whose claims were lost, as lease_expired: an earlier claim of a message
// being claimed now that is still in flight never reported.
func closeLostAttempts(ctx context.Context, tx *sql.Tx, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("encode ids: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE delivery_attempts SET outcome = ?1, created_at = ?2
		WHERE message_id IN (SELECT value FROM json_each(?3)) AND outcome = ?4`,
		ims.AttemptLeaseExpired, micros(now), string(list), ims.AttemptInFlight); err != nil {
		return fmt.Errorf("close lost attempts: %w", err)
	}
	return nil
}

// closeAttemptSQL closes a message's in-flight attempt row (a release, a
// deferral, an expiry of a lost claim): ?1 the outcome, ?2 now, ?3 the
// message.
var closeAttemptSQL = `UPDATE delivery_attempts SET outcome = ?1, created_at = ?2
	WHERE message_id = ?3 AND outcome = ` + quote(ims.AttemptInFlight)

// currentClaimSQL is the condition a claim is current by, for RenewClaims
// and CheckClaims: ?1 the message, ?2 the attempt, ?3 the handed-over
// deadline (0 = any; else it must still be the current one, see
// ims.Claim.LeaseUntil). Nothing is current while the stored state is not
// running (see ClaimDue). The statuses are literals from the domain (see
// statusIn): the statement runs once per claim.
var currentClaimSQL = `id = ?1 AND attempts = ?2 AND (?3 = 0 OR next_attempt_at = ?3)
	AND ` + statusIn("status", ims.TransitionRenew.From) + `
	AND EXISTS (SELECT 1 FROM scheduler_state WHERE id = 1 AND running)`

// RenewClaims extends the lease of every claim still current and returns
// those messages, in the order given.
func (s *Store) RenewClaims(ctx context.Context, claims []ims.Claim, lease time.Duration) ([]ims.Message, error) {
	if len(claims) == 0 {
		return []ims.Message{}, nil
	}
	deadline := micros(s.now().Add(lease))
	var renewed []ims.Message
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		renewed, err = currentClaims(ctx, tx, `UPDATE messages SET next_attempt_at = ?4
			WHERE `+currentClaimSQL+` RETURNING `+messageColumns, claims, deadline)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("renew claims: %w", err)
	}
	return renewed, nil
}

// CheckClaims returns the messages of the claims that RenewClaims would
// renew, in the order given, and writes nothing. It reads in one
// transaction, so every claim is judged against the same snapshot.
func (s *Store) CheckClaims(ctx context.Context, claims []ims.Claim) (_ []ims.Message, err error) {
	if len(claims) == 0 {
		return []ims.Message{}, nil
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("check claims: begin: %w", err)
	}
	defer func() { err = errors.Join(err, rollback(tx)) }()
	current, err := currentClaims(ctx, tx, `SELECT `+messageColumns+` FROM messages WHERE `+currentClaimSQL, claims)
	if err != nil {
		return nil, fmt.Errorf("check claims: %w", err)
	}
	return current, nil
}

// currentClaims runs query (a statement on currentClaimSQL that returns the
// message) once per claim, with extra as its further parameters, and
// returns the messages of the claims that are current, in order.
func currentClaims(ctx context.Context, tx *sql.Tx, query string, claims []ims.Claim, extra ...any) ([]ims.Message, error) {
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	defer st.Close()
	current := []ims.Message{}
	err = eachRow(ctx, len(claims), func(ctx context.Context, i int) error {
		c := claims[i]
		id, err := normalizeID(c.MessageID)
		if err != nil {
			return nil //nolint:nilerr // cannot be current
		}
		var leaseUntil int64
		if !c.LeaseUntil.IsZero() {
			leaseUntil = micros(c.LeaseUntil)
		}
		m, err := scanMessage(st.QueryRowContext(ctx, append([]any{id, c.Attempt, leaseUntil}, extra...)...))
		if errors.Is(err, sql.ErrNoRows) {
			return nil // stale
		} else if err != nil {
			return fmt.Errorf("claim %s: %w", c.MessageID, err)
		}
		current = append(current, m)
		return nil
	})
	return current, err
}

// ReleaseClaims returns still-current claims to pending, due now, without
// counting the attempt.
func (s *Store) ReleaseClaims(ctx context.Context, claims []ims.Claim) error {
	if len(claims) == 0 {
		return nil
	}
	now := s.now()
	released := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The statuses are literals from the domain (see statusIn): the
		// statement runs once per claim.
		tr := ims.TransitionRelease
		st, err := tx.PrepareContext(ctx, `UPDATE messages
			SET status = `+quote(string(tr.To))+`, attempts = attempts - 1, next_attempt_at = ?1, updated_at = ?1
			WHERE id = ?2 AND attempts = ?3 AND `+statusIn("status", tr.From))
		if err != nil {
			return fmt.Errorf("prepare release: %w", err)
		}
		defer st.Close()
		audit, err := prepareAudit(ctx, tx)
		if err != nil {
			return err
		}
		defer audit.Close()
		closing, err := tx.PrepareContext(ctx, closeAttemptSQL)
		if err != nil {
			return fmt.Errorf("prepare attempt close: %w", err)
		}
		defer closing.Close()
		return eachRow(ctx, len(claims), func(ctx context.Context, i int) error {
			ok, err := releaseOne(ctx, st, audit, closing, claims[i], now)
			if ok {
				released++
			}
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("release claims: %w", err)
	}
	if released > 0 {
		s.signal()
	}
	return nil
}

// releaseOne releases one claim, closes its attempt row as released (no
// webhook call was made; its claimed event stays) and writes its event.
func releaseOne(ctx context.Context, st *sql.Stmt, audit auditStmt, closing *sql.Stmt, c ims.Claim, now time.Time) (bool, error) {
	id, err := normalizeID(c.MessageID)
	if err != nil {
		return false, nil //nolint:nilerr // a malformed claim cannot be current
	}
	res, err := st.ExecContext(ctx, micros(now), id, c.Attempt)
	if err != nil {
		return false, fmt.Errorf("release %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	if _, err := closing.ExecContext(ctx, ims.AttemptReleased, micros(now), id); err != nil {
		return false, fmt.Errorf("close attempt of %s: %w", id, err)
	}
	// ReleaseClaims has no actor parameter: the pipeline releases on shutdown.
	tr := ims.TransitionRelease
	return true, audit.exec(ctx, tr.Event, id, ims.ActorSystem, tr.DetailsFor(c.Attempt), now)
}
