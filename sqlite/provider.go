package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/insiderone/ims"
)

// ProviderState reads the stored circuit and rate state.
func (s *Store) ProviderState(ctx context.Context) (ims.ProviderState, error) {
	st, err := readProviderState(ctx, s.read)
	if err != nil {
		return ims.ProviderState{}, fmt.Errorf("read provider state: %w", err)
	}
	return st, nil
}

func readProviderState(ctx context.Context, q querier) (ims.ProviderState, error) {
	var (
		raw     string
		version int64
	)
	err := q.QueryRowContext(ctx, `SELECT state, version FROM provider_state WHERE id = 1`).Scan(&raw, &version)
	if errors.Is(err, sql.ErrNoRows) {
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

// UpdateProviderState applies fn inside one BEGIN IMMEDIATE transaction:
// the write lock is taken before the read, so writers apply in turn.
func (s *Store) UpdateProviderState(ctx context.Context, fn func(ims.ProviderState) (ims.ProviderState, []ims.AuditEvent)) (ims.ProviderState, error) {
	var out ims.ProviderState
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := readProviderState(ctx, tx)
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO provider_state (id, state, version) VALUES (1, ?1, ?2)
			ON CONFLICT (id) DO UPDATE SET state = ?1, version = ?2 WHERE version = ?3`,
			string(raw), next.Version, cur.Version); err != nil {
			return err
		}
		if err := eachRow(ctx, len(events), func(ctx context.Context, i int) error {
			e := events[i]
			return insertAudit(ctx, tx, e.Type, e.MessageID, e.Actor, e.Details, e.CreatedAt)
		}); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return ims.ProviderState{}, fmt.Errorf("update provider state: %w", err)
	}
	return out, nil
}
