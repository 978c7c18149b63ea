package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/insiderone/ims"
)

// recordSQL stores a batch of outcomes in one statement (so one round trip
// and one transaction, however large the batch). Only outcomes whose claim
// is still current move the message; each of them finishes its claim's
// attempt row, in flight since the claim (migration 00013), with an update
// that changes no indexed column (HOT). Every other outcome — stale, or
// current for a claim made before 00013 — inserts an attempt row, as all
// outcomes did before: a stale one stays on record without moving its
// message. Current outcomes write their audit event, except a sent one whose
// event its finished attempt row is (synth, see ims.SentEventSynthesised
// and auditQuery). What each outcome writes is ims.PlanOutcome's (a NULL
// next_attempt_at keeps the column; sent says SetSent). $15 is
// ims.OutcomeFrom, $16 the actor, $17 whether the attempt is refunded
// (ims.Outcome.Held), $18 whether the sent event is synthesised, $19 the
// in-flight outcome.
//
// No CTE is joined to another: the planner estimates an UPDATE's RETURNING
// at a row or so, and with that estimate a join may scan the other CTE once
// per row (seen: 400 ms for 1,000 outcomes instead of 30). So updated
// returns what the later steps need of its outcome, finished reads only
// updated and the attempts index, and the outcomes that finished nothing
// are found with NOT IN over finished, a hashed subplan whatever the
// estimates (ord is never NULL). TestRecordOutcomesScansNoCTEPerRow holds
// this with hash and merge joins disabled.
var recordSQL = `/* ims: record outcomes */
WITH o AS (
	SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::bool[],
		$7::int[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $17::bool[],
		$18::bool[])
		WITH ORDINALITY AS t(id, attempt, status, at, next_attempt_at, sent,
			status_code, latency_ns, error, last_error, response, provider_message_id, event, details, held, synth, ord)
),
updated AS (
	UPDATE messages m SET
		status = o.status,
		sent_at = CASE WHEN o.sent THEN o.at ELSE m.sent_at END,
		provider_message_id = CASE WHEN o.sent THEN o.provider_message_id ELSE m.provider_message_id END,
		last_error = o.last_error,
		held = m.held + CASE WHEN o.held THEN 1 ELSE 0 END,
		next_attempt_at = coalesce(o.next_attempt_at, m.next_attempt_at),
		updated_at = o.at
	FROM o
	WHERE m.id = o.id AND m.status = ANY($15::text[]) AND m.attempts = o.attempt
	RETURNING m.id, o.ord, o.attempt, o.status, o.at, o.status_code, o.latency_ns, o.error, o.response, o.event,
		o.details, o.synth
),
finished AS (
	UPDATE delivery_attempts a SET status_code = u.status_code, latency_ns = u.latency_ns, error = u.error,
		response = u.response, outcome = u.status, created_at = u.at, actor = nullif($16, a.claim_actor),
		sent_event = u.synth
	FROM updated u
	WHERE a.message_id = u.id AND a.number = u.attempt AND a.outcome = $19::text
	RETURNING u.ord
),
attempts AS (
	INSERT INTO delivery_attempts (message_id, number, status_code, latency_ns, error, response, outcome, created_at)
	SELECT o.id, o.attempt, o.status_code, o.latency_ns, o.error, o.response, o.status, o.at
	FROM o WHERE o.ord NOT IN (SELECT ord FROM finished) AND EXISTS (SELECT 1 FROM messages m WHERE m.id = o.id)
	ORDER BY o.ord
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT u.event, u.id::text, $16, u.details, u.at
	FROM updated u
	WHERE NOT u.synth OR u.ord NOT IN (SELECT ord FROM finished)
	ORDER BY u.ord
)
SELECT count(*) FROM updated`

// RecordOutcomes stores a batch of outcomes in one statement. A decision
// that is not an outcome fails the whole batch (EINVALID) before anything
// is written.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []ims.Outcome, actor string) (err error) {
	defer classify(&err)
	a, err := newOutcomeArrays(outcomes)
	if err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	if len(a.ids) == 0 {
		return nil
	}
	var n int
	err = s.pool.QueryRow(ctx, recordSQL, a.ids, a.attempts, a.statuses, a.ats, a.nextAts, a.sent,
		a.codes, a.latencies, a.errors, a.lastErrors, a.responses, a.providerIDs, a.events, a.details,
		ims.StatusStrings(ims.OutcomeFrom), actor, a.held, a.synth, ims.AttemptInFlight).Scan(&n)
	if err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	return nil
}

// outcomeArrays holds outcomes column by column for unnest.
type outcomeArrays struct {
	ids                                                  []pgtype.UUID
	attempts, codes                                      []int32
	statuses, errors, lastErrors, responses, providerIDs []string
	events, details                                      []string
	ats                                                  []time.Time
	nextAts                                              []*time.Time // nil (NULL) keeps the column
	sent, held, synth                                    []bool
	latencies                                            []int64
}

func newOutcomeArrays(outcomes []ims.Outcome) (outcomeArrays, error) {
	n := len(outcomes) // sized once: a batch holds thousands of outcomes
	a := outcomeArrays{
		ids: make([]pgtype.UUID, 0, n), attempts: make([]int32, 0, n), codes: make([]int32, 0, n),
		statuses: make([]string, 0, n), errors: make([]string, 0, n), lastErrors: make([]string, 0, n),
		responses: make([]string, 0, n), providerIDs: make([]string, 0, n), events: make([]string, 0, n),
		details: make([]string, 0, n), ats: make([]time.Time, 0, n), nextAts: make([]*time.Time, 0, n),
		sent: make([]bool, 0, n), held: make([]bool, 0, n), synth: make([]bool, 0, n), latencies: make([]int64, 0, n),
	}
	for _, o := range outcomes {
		w, err := ims.PlanOutcome(o)
		if err != nil {
			return outcomeArrays{}, fmt.Errorf("message %s: %w", o.Claim.MessageID, err)
		}
		id, ok := parseID(o.Claim.MessageID)
		if !ok {
			continue // cannot name a message, so there is nothing to record
		}
		a.ids = append(a.ids, id)
		a.attempts = append(a.attempts, int32(o.Claim.Attempt))
		a.statuses = append(a.statuses, string(w.Transition.To))
		a.ats = append(a.ats, micro(o.At))
		var next *time.Time
		if w.SetNextAttempt {
			next = microPtr(&w.NextAttemptAt)
		}
		a.nextAts = append(a.nextAts, next)
		a.sent = append(a.sent, w.SetSent)
		a.held = append(a.held, o.Held)
		a.synth = append(a.synth, ims.SentEventSynthesised(o, w))
		a.codes = append(a.codes, int32(o.Result.StatusCode))
		a.latencies = append(a.latencies, int64(o.Result.Latency)) // nanoseconds: see ims.Attempt.Latency
		a.errors = append(a.errors, o.Result.ErrorText())
		a.lastErrors = append(a.lastErrors, w.LastError)
		a.responses = append(a.responses, o.Result.Response)
		a.providerIDs = append(a.providerIDs, o.Result.ProviderMessageID)
		a.events = append(a.events, w.Transition.Event)
		a.details = append(a.details, w.Details)
	}
	return a, nil
}
