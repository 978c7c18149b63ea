package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/insiderone/ims"
)

// DeferClaims hands claims back for quiet hours (ims.DeferredClaim.Write):
// each still-current claim goes to its status with its attempt refunded and
// next_attempt_at at the window's end, with its event. See ims.DeliveryStore.
func (s *Store) DeferClaims(ctx context.Context, claims []ims.DeferredClaim, actor string) error {
	if len(claims) == 0 {
		return nil
	}
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE messages
			SET status = ?1, attempts = attempts - 1, next_attempt_at = ?2, updated_at = ?3
			WHERE id = ?4 AND attempts = ?5 AND `+statusIn("status", ims.TransitionDefer.From))
		if err != nil {
			return fmt.Errorf("prepare defer: %w", err)
		}
		defer st.Close()
		audit, err := prepareAudit(ctx, tx)
		if err != nil {
			return err
		}
		defer audit.Close()
		// Its attempt row is closed as deferred: no webhook call was made,
		// and its claimed event stays.
		closing, err := tx.PrepareContext(ctx, closeAttemptSQL)
		if err != nil {
			return fmt.Errorf("prepare attempt close: %w", err)
		}
		defer closing.Close()
		return eachRow(ctx, len(claims), func(ctx context.Context, i int) error {
			d := claims[i]
			id, err := normalizeID(d.Claim.MessageID)
			if err != nil {
				return nil //nolint:nilerr // a malformed claim cannot be current
			}
			tr, details := d.Write()
			res, err := st.ExecContext(ctx, string(tr.To), micros(d.Deferral.Until), micros(now), id, d.Claim.Attempt)
			if err != nil {
				return fmt.Errorf("defer %s: %w", id, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("defer %s: %w", id, err)
			} else if n == 0 {
				return nil // stale: not ours to change
			}
			if _, err := closing.ExecContext(ctx, ims.AttemptDeferred, micros(now), id); err != nil {
				return fmt.Errorf("close attempt of %s: %w", id, err)
			}
			return audit.exec(ctx, tr.Event, id, actor, details, now)
		})
	})
	if err != nil {
		return fmt.Errorf("defer claims: %w", err)
	}
	return nil
}
