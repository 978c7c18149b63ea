package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/insiderone/ims"
)

// ProviderState reads the stored circuit and rate state.
func (s *Store) ProviderState(ctx context.Context) (_ ims.ProviderState, err error) {
	defer classify(&err)
	st, err := readProviderState(ctx, s.pool.QueryRow(ctx, `SELECT state, version FROM provider_state WHERE id = 1`))
	if err != nil {
		return ims.ProviderState{}, fmt.Errorf("read provider state: %w", err)
	}
	return st, nil
}

func readProviderState(_ context.Context, row pgx.Row) (ims.ProviderState, error) {
	var (
		raw     string
		version int64
	)
	if err := row.Scan(&raw, &version); errors.Is(err, pgx.ErrNoRows) {
		return ims.ProviderState{}, nil
	} else if err != nil {
		return ims.ProviderState{}, err
	}
	var st ims.ProviderState
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return ims.ProviderState{}, fmt.Errorf("decode provider state: %w", err)
	}
	st.Version = version
	return st, nil
}

// UpdateProviderState applies fn under the row's lock. The row is created
// (empty) first if missing, so that FOR UPDATE has something to lock and
// two first writers still queue behind each other.
func (s *Store) UpdateProviderState(ctx context.Context, fn func(ims.ProviderState) (ims.ProviderState, []ims.AuditEvent)) (_ ims.ProviderState, err error) {
	defer classify(&err)
	var out ims.ProviderState
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO provider_state (id, state, version) VALUES (1, '{}', 0) ON CONFLICT (id) DO NOTHING`); err != nil {
			return err
		}
		cur, err := readProviderState(ctx, tx.QueryRow(ctx, `SELECT state, version FROM provider_state WHERE id = 1 FOR UPDATE`))
		if err != nil {
			return err
		}
		next, events, changed := ims.ApplyProviderChange(cur, fn)
		if !changed {
			out = cur
			return nil
		}
		raw, err := json.Marshal(next)
		if err != nil {
			return err
		}
		// The version guard is redundant under the lock, and kept so that
		// the write is a compare and swap whatever the isolation.
		tag, err := tx.Exec(ctx, `UPDATE provider_state SET state = $1, version = $2 WHERE id = 1 AND version = $3`,
			string(raw), next.Version, cur.Version)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errors.New("provider state changed under its lock")
		}
		for _, e := range events {
			if _, err := tx.Exec(ctx, `INSERT INTO audit_events (type, message_id, actor, details, created_at)
				VALUES ($1, $2, $3, $4, $5)`, e.Type, e.MessageID, e.Actor, e.Details, micro(e.CreatedAt)); err != nil {
				return fmt.Errorf("insert audit event %s: %w", e.Type, err)
			}
		}
		out = next
		return nil
	})
	if err != nil {
		return ims.ProviderState{}, fmt.Errorf("update provider state: %w", err)
	}
	return out, nil
}
