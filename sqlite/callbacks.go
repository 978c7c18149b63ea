package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// The outbox rows themselves are written by the trigger messages_callback
// (migration 00009), in the transaction of the change they report.

// SetStatusCallbackURL stores the fleet's default callback URL, read by the
// outbox trigger.
func (s *Store) SetStatusCallbackURL(ctx context.Context, url string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO callback_settings (id, url) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET url = excluded.url`, url)
		return err
	})
	if err != nil {
		return fmt.Errorf("set status callback url: %w", err)
	}
	return nil
}

// ClaimCallbacks leases up to limit due callbacks, oldest due first. The
// single write connection serializes claimers, so a row is never claimed
// twice at once; the lease in next_attempt_at brings a crashed holder's rows
// back.
func (s *Store) ClaimCallbacks(ctx context.Context, limit int, lease time.Duration) ([]ims.Callback, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := s.now()
	var out []ims.Callback
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE callbacks SET attempts = attempts + 1, next_attempt_at = ?3, updated_at = ?1
			WHERE id IN (SELECT id FROM callbacks WHERE state = '`+string(ims.CallbackPending)+`' AND next_attempt_at <= ?1
				ORDER BY next_attempt_at, id LIMIT ?2)
			RETURNING id, message_id, url, status, delivery_status, provider_message_id, error, event_at,
				attempts, next_attempt_at, created_at`, micros(now), limit, micros(now.Add(lease)))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c ims.Callback
			var at, next, created int64
			if err := rows.Scan(&c.ID, &c.MessageID, &c.URL, &c.Status, &c.DeliveryStatus, &c.ProviderMessageID,
				&c.Error, &at, &c.Attempts, &next, &created); err != nil {
				return err
			}
			c.At, c.NextAttemptAt, c.CreatedAt = fromMicros(at), fromMicros(next), fromMicros(created)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim callbacks: %w", err)
	}
	sortCallbacks(out)
	return out, nil
}

func sortCallbacks(cs []ims.Callback) {
	for i := 1; i < len(cs); i++ { // RETURNING has no order; batches are small
		for j := i; j > 0 && cs[j].ID < cs[j-1].ID; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// CompleteCallbacks records attempt results in one transaction, with a
// callback.given_up event for each row given up.
func (s *Store) CompleteCallbacks(ctx context.Context, results []ims.CallbackResult, actor string) error {
	if len(results) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return eachRow(ctx, len(results), func(ctx context.Context, i int) error {
			r := results[i]
			state, next := callbackState(r)
			var c ims.Callback
			err := tx.QueryRowContext(ctx, `UPDATE callbacks SET state = ?3, next_attempt_at = coalesce(?4, next_attempt_at),
				last_error = ?5, updated_at = ?6
				WHERE id = ?1 AND attempts = ?2 AND state = '`+string(ims.CallbackPending)+`'
				RETURNING message_id, url, status, delivery_status, attempts`,
				r.ID, r.Attempt, string(state), next, r.Error, micros(r.At)).
				Scan(&c.MessageID, &c.URL, &c.Status, &c.DeliveryStatus, &c.Attempts)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // stale: claimed again since
			} else if err != nil {
				return fmt.Errorf("callback %d: %w", r.ID, err)
			}
			if state != ims.CallbackFailed {
				return nil
			}
			c.ID = r.ID
			return insertAudit(ctx, tx, ims.EventCallbackGivenUp, c.MessageID, actor,
				ims.CallbackGivenUpDetails(c, r.Error), r.At)
		})
	})
	if err != nil {
		return fmt.Errorf("complete callbacks: %w", err)
	}
	return nil
}

// callbackState is the state and next due time (nil keeps it) a result leads to.
func callbackState(r ims.CallbackResult) (ims.CallbackState, any) {
	switch {
	case r.OK:
		return ims.CallbackDelivered, nil
	case r.NextAttemptAt.IsZero():
		return ims.CallbackFailed, nil
	}
	return ims.CallbackPending, micros(r.NextAttemptAt)
}

// CountCallbacks returns how many outbox rows are pending and given up.
func (s *Store) CountCallbacks(ctx context.Context) (map[ims.CallbackState]int64, error) {
	var pending, failed int64
	if err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM callbacks WHERE state = '`+string(ims.CallbackPending)+`'),
		(SELECT count(*) FROM callbacks WHERE state = '`+string(ims.CallbackFailed)+`')`).Scan(&pending, &failed); err != nil {
		return nil, fmt.Errorf("count callbacks: %w", err)
	}
	return map[ims.CallbackState]int64{ims.CallbackPending: pending, ims.CallbackFailed: failed}, nil
}

// PurgeCallbacks deletes up to limit finished rows last changed before cutoff.
func (s *Store) PurgeCallbacks(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	return s.deleteBatch(ctx, "callbacks", `DELETE FROM callbacks WHERE id IN (
		SELECT id FROM callbacks WHERE state <> '`+string(ims.CallbackPending)+`' AND updated_at < ?
		ORDER BY updated_at LIMIT ?)`, micros(cutoff), limit)
}
