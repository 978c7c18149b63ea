package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/insiderone/ims"
)

// outcomeStmts are the statements RecordOutcomes runs per outcome, prepared
// once per batch.
type outcomeStmts struct {
	tx                      *sql.Tx
	attempt, update, finish *sql.Stmt
	audit                   auditStmt
}

func prepareOutcome(ctx context.Context, tx *sql.Tx) (*outcomeStmts, error) {
	// An attempt row inserted by an outcome (stale, or of a claim made
	// before 00013) takes its ID from audit_events' counter too, as the
	// claim's do, so no later claim can meet it.
	attempt, err := tx.PrepareContext(ctx, `INSERT INTO delivery_attempts
		(id, message_id, number, status_code, latency_ns, error, response, outcome, created_at)
		VALUES (`+nextEventIDSQL+`, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("prepare attempt insert: %w", err)
	}
	// NULL parameters keep the column: each decision sets only its fields
	// (ims.PlanOutcome). The status/attempts guard is the fencing token: a
	// stale claim matches nothing. The guard's statuses are literals from the
	// domain (see statusIn): the statement runs once per outcome, and a bound
	// value would cost every one of them.
	guard := statusIn("status", ims.OutcomeFrom)
	update, err := tx.PrepareContext(ctx, `UPDATE messages SET status = ?1,
		next_attempt_at = COALESCE(?2, next_attempt_at), sent_at = COALESCE(?3, sent_at),
		provider_message_id = COALESCE(?4, provider_message_id), last_error = ?5, updated_at = ?6,
		held = held + ?9
		WHERE id = ?7 AND attempts = ?8 AND `+guard)
	if err != nil {
		return nil, errorsJoinClose(fmt.Errorf("prepare outcome update: %w", err), attempt)
	}
	// A current outcome finishes its claim's in-flight attempt row: no
	// indexed column changes. actor: NULL when the claim's.
	finish, err := tx.PrepareContext(ctx, `UPDATE delivery_attempts SET status_code = ?1, latency_ns = ?2,
		error = ?3, response = ?4, outcome = ?5, created_at = ?6, actor = NULLIF(?7, claim_actor), sent_event = ?8
		WHERE message_id = ?9 AND number = ?10 AND outcome = `+quote(ims.AttemptInFlight))
	if err != nil {
		return nil, errorsJoinClose(fmt.Errorf("prepare attempt finish: %w", err), attempt, update)
	}
	audit, err := prepareAudit(ctx, tx)
	if err != nil {
		return nil, errorsJoinClose(err, attempt, update, finish)
	}
	return &outcomeStmts{tx: tx, attempt: attempt, update: update, finish: finish, audit: audit}, nil
}

func (o *outcomeStmts) Close() {
	o.attempt.Close()
	o.update.Close()
	o.finish.Close()
	o.audit.Close()
}

func errorsJoinClose(err error, sts ...*sql.Stmt) error {
	for _, st := range sts {
		st.Close()
	}
	return err
}

// RecordOutcomes stores a batch of outcomes in one transaction. Only current
// claims change their message; each finishes its claim's attempt row (in
// flight since the claim, migration 00013) and gets an audit event, except
// a sent one whose event that row is (ims.SentEventSynthesised). Every
// other outcome — stale, or of a claim made before 00013 — inserts its
// attempt row, as every outcome did before.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []ims.Outcome, actor string) error {
	if len(outcomes) == 0 {
		return nil
	}
	plans := make([]ims.OutcomeWrite, len(outcomes))
	for i, o := range outcomes {
		w, err := ims.PlanOutcome(o)
		if err != nil {
			return fmt.Errorf("record outcomes: message %s: %w", o.Claim.MessageID, err)
		}
		plans[i] = w
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := prepareOutcome(ctx, tx)
		if err != nil {
			return err
		}
		defer st.Close()
		return eachRow(ctx, len(outcomes), func(ctx context.Context, i int) error {
			return st.record(ctx, outcomes[i], plans[i], actor)
		})
	})
	if err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	return nil
}

func (st *outcomeStmts) record(ctx context.Context, o ims.Outcome, w ims.OutcomeWrite, actor string) error {
	id, err := normalizeID(o.Claim.MessageID)
	if err != nil {
		return err
	}
	r, at := o.Result, micros(o.At)
	var next, sentAt, provider any // nil: leave the column as it is
	if w.SetNextAttempt {
		next = micros(w.NextAttemptAt)
	}
	if w.SetSent {
		sentAt, provider = at, r.ProviderMessageID
	}
	res, err := st.update.ExecContext(ctx, string(w.Transition.To), next, sentAt, provider, w.LastError, at, id, o.Claim.Attempt, heldIncrement(o.Held))
	if err != nil {
		return fmt.Errorf("update message %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update message %s: %w", id, err)
	}
	current, synth := n > 0, ims.SentEventSynthesised(o, w)
	finished := false
	if current {
		if finished, err = st.finishAttempt(ctx, id, o, w, actor, synth); err != nil {
			return err
		}
	}
	if !finished {
		if err := st.insertAttempt(ctx, id, o, w); err != nil {
			return err
		}
	}
	if !current || (synth && finished) {
		return nil // stale: on record, not ours to change; or the attempt row is the event
	}
	return st.audit.exec(ctx, w.Transition.Event, id, actor, w.Details, o.At)
}

// finishAttempt finishes the in-flight attempt row of a current outcome and
// reports whether there was one. Latency in nanoseconds, as on PostgreSQL:
// see ims.Attempt.Latency.
func (st *outcomeStmts) finishAttempt(ctx context.Context, id string, o ims.Outcome, w ims.OutcomeWrite, actor string, synth bool) (bool, error) {
	r := o.Result
	res, err := st.finish.ExecContext(ctx, r.StatusCode, int64(r.Latency), r.ErrorText(), r.Response,
		string(w.Transition.To), micros(o.At), actor, synth, id, o.Claim.Attempt)
	if err != nil {
		return false, fmt.Errorf("finish attempt of %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("finish attempt of %s: %w", id, err)
	}
	return n > 0, nil
}

// insertAttempt records an outcome that found no attempt row in flight.
func (st *outcomeStmts) insertAttempt(ctx context.Context, id string, o ims.Outcome, w ims.OutcomeWrite) error {
	r := o.Result
	if _, err := st.attempt.ExecContext(ctx, id, o.Claim.Attempt, r.StatusCode, int64(r.Latency),
		r.ErrorText(), r.Response, string(w.Transition.To), micros(o.At)); err != nil {
		return fmt.Errorf("insert attempt for %s: %w", id, err)
	}
	return takeEventIDs(ctx, st.tx, 1)
}

// heldIncrement is what an outcome adds to the message's held count.
func heldIncrement(held bool) int {
	if held {
		return 1
	}
	return 0
}
