package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/insiderone/ims"
)

// The outbox rows themselves are written by the trigger messages_changed
// (migration 00009, once per statement since 00018), in the transaction of
// the change they report.

// SetStatusCallbackURL stores the fleet's default callback URL, read by the
// outbox trigger.
func (s *Store) SetStatusCallbackURL(ctx context.Context, url string) (err error) {
	defer classify(&err)
	if _, err := s.pool.Exec(ctx, `INSERT INTO callback_settings (id, url) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url`, url); err != nil {
		return fmt.Errorf("set status callback url: %w", err)
	}
	return nil
}

// claimCallbacksSQL leases due rows like ClaimDue leases messages: SKIP
// LOCKED so that dispatchers across the fleet take disjoint rows, the lease
// in next_attempt_at so that a crashed holder's rows come due again.
const claimCallbacksSQL = `/* ims: claim callbacks */
WITH pick AS (
	SELECT id FROM callbacks WHERE state = '` + string(ims.CallbackPending) + `' AND next_attempt_at <= $1
	ORDER BY next_attempt_at, id LIMIT $2
	FOR UPDATE SKIP LOCKED
)
UPDATE callbacks c SET attempts = c.attempts + 1, next_attempt_at = $3, updated_at = $1
FROM pick WHERE c.id = pick.id
RETURNING c.id, c.message_id::text, c.url, c.status, c.delivery_status, c.provider_message_id, c.error, c.event_at,
	c.attempts, c.next_attempt_at, c.created_at`

// ClaimCallbacks leases up to limit due callbacks, oldest due first.
func (s *Store) ClaimCallbacks(ctx context.Context, limit int, lease time.Duration) (_ []ims.Callback, err error) {
	defer classify(&err)
	if limit <= 0 {
		return nil, nil
	}
	now := s.now()
	rows, err := s.pool.Query(ctx, claimCallbacksSQL, now, limit, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim callbacks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ims.Callback, error) {
		var c ims.Callback
		err := row.Scan(&c.ID, &c.MessageID, &c.URL, &c.Status, &c.DeliveryStatus, &c.ProviderMessageID, &c.Error,
			&c.At, &c.Attempts, &c.NextAttemptAt, &c.CreatedAt)
		c.At, c.NextAttemptAt, c.CreatedAt = c.At.UTC(), c.NextAttemptAt.UTC(), c.CreatedAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim callbacks: %w", err)
	}
	slices.SortFunc(out, func(a, b ims.Callback) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// completeCallbackSQL records one attempt; the attempts guard fences a stale
// claim. $3 is the new state, $4 the next due time (kept when NULL).
const completeCallbackSQL = `/* ims: complete callback */
UPDATE callbacks SET state = $3, next_attempt_at = coalesce($4, next_attempt_at), last_error = $5, updated_at = $6
WHERE id = $1 AND attempts = $2 AND state = '` + string(ims.CallbackPending) + `'
RETURNING message_id::text, url, status, delivery_status, attempts`

// CompleteCallbacks records attempt results in one transaction, with a
// callback.given_up event for each row given up.
func (s *Store) CompleteCallbacks(ctx context.Context, results []ims.CallbackResult, actor string) (err error) {
	defer classify(&err)
	if len(results) == 0 {
		return nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, r := range results {
			state, next := callbackState(r)
			var c ims.Callback
			err := tx.QueryRow(ctx, completeCallbackSQL, r.ID, r.Attempt, string(state), microPtr(next), r.Error,
				micro(r.At)).Scan(&c.MessageID, &c.URL, &c.Status, &c.DeliveryStatus, &c.Attempts)
			if isNoRows(err) {
				continue // stale: claimed again since
			} else if err != nil {
				return fmt.Errorf("callback %d: %w", r.ID, err)
			}
			if state != ims.CallbackFailed {
				continue
			}
			c.ID = r.ID
			if _, err := tx.Exec(ctx, `INSERT INTO audit_events (type, message_id, actor, details, created_at)
				VALUES ($1, $2, $3, $4, $5)`, ims.EventCallbackGivenUp, c.MessageID, actor,
				ims.CallbackGivenUpDetails(c, r.Error), micro(r.At)); err != nil {
				return fmt.Errorf("callback %d: audit: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("complete callbacks: %w", err)
	}
	return nil
}

// callbackState is the state and next due time a result leads to.
func callbackState(r ims.CallbackResult) (ims.CallbackState, *time.Time) {
	switch {
	case r.OK:
		return ims.CallbackDelivered, nil
	case r.NextAttemptAt.IsZero():
		return ims.CallbackFailed, nil
	}
	return ims.CallbackPending, &r.NextAttemptAt
}

// CountCallbacks returns how many outbox rows are pending and given up.
func (s *Store) CountCallbacks(ctx context.Context) (_ map[ims.CallbackState]int64, err error) {
	defer classify(&err)
	var pending, failed int64
	if err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM callbacks WHERE state = '`+string(ims.CallbackPending)+`'),
		(SELECT count(*) FROM callbacks WHERE state = '`+string(ims.CallbackFailed)+`')`).Scan(&pending, &failed); err != nil {
		return nil, fmt.Errorf("count callbacks: %w", err)
	}
	return map[ims.CallbackState]int64{ims.CallbackPending: pending, ims.CallbackFailed: failed}, nil
}

// PurgeCallbacks deletes up to limit finished rows last changed before cutoff.
func (s *Store) PurgeCallbacks(ctx context.Context, cutoff time.Time, limit int) (_ int, err error) {
	defer classify(&err)
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM callbacks WHERE id IN (
		SELECT id FROM callbacks WHERE state <> '`+string(ims.CallbackPending)+`' AND updated_at < $1
		ORDER BY updated_at LIMIT $2)`, micro(cutoff), limit)
	if err != nil {
		return 0, fmt.Errorf("purge callbacks: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
