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
	attempt, update *sql.Stmt
	audit           auditStmt
}

func prepareOutcome(ctx context.Context, tx *sql.Tx) (*outcomeStmts, error) {
	attempt, err := tx.PrepareContext(ctx, `INSERT INTO delivery_attempts
		(message_id, number, status_code, latency_ns, error, response, outcome, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
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
	audit, err := prepareAudit(ctx, tx)
	if err != nil {
		return nil, errorsJoinClose(err, attempt, update)
	}
	return &outcomeStmts{attempt: attempt, update: update, audit: audit}, nil
}

func (o *outcomeStmts) Close() {
	o.attempt.Close()
	o.update.Close()
	o.audit.Close()
}

func errorsJoinClose(err error, sts ...*sql.Stmt) error {
	for _, st := range sts {
		st.Close()
	}
	return err
}

// RecordOutcomes stores a batch of outcomes in one transaction. Every outcome
// gets its attempt row; only current claims change their message and get an
// audit event.
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
		for i, o := range outcomes {
			if err := st.record(ctx, o, plans[i], actor); err != nil {
				return err
			}
		}
		return nil
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
	// Latency in nanoseconds, as on PostgreSQL: see ims.Attempt.Latency.
	if _, err := st.attempt.ExecContext(ctx, id, o.Claim.Attempt, r.StatusCode, int64(r.Latency),
		r.ErrorText(), r.Response, string(w.Transition.To), at); err != nil {
		return fmt.Errorf("insert attempt for %s: %w", id, err)
	}

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
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update message %s: %w", id, err)
	} else if n == 0 {
		return nil // stale claim: the attempt is on record, the message is not ours to change
	}
	return st.audit.exec(ctx, w.Transition.Event, id, actor, w.Details, o.At)
}

// heldIncrement is what an outcome adds to the message's held count.
func heldIncrement(held bool) int {
	if held {
		return 1
	}
	return 0
}
