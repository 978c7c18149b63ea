package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// Heartbeat stores inst's row with last_seen the store's now.
func (s *Store) Heartbeat(ctx context.Context, inst ims.Instance) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO instances (id, started_at, last_seen, version, queue_mode, leader)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (id) DO UPDATE SET started_at = ?2, last_seen = ?3, version = ?4, queue_mode = ?5, leader = ?6`,
		inst.ID, micros(inst.StartedAt), micros(s.now()), inst.Version, inst.QueueMode, inst.Leader)
	if err != nil {
		return fmt.Errorf("heartbeat of %s: %w", inst.ID, err)
	}
	return nil
}

// ListInstances returns the instances seen at or after seenSince, by ID.
func (s *Store) ListInstances(ctx context.Context, seenSince time.Time) ([]ims.Instance, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, started_at, last_seen, version, queue_mode, leader, state_version
		FROM instances WHERE last_seen >= ? ORDER BY id`, micros(seenSince))
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	out := []ims.Instance{}
	for rows.Next() {
		var (
			in             ims.Instance
			started, lastS int64
		)
		if err := rows.Scan(&in.ID, &started, &lastS, &in.Version, &in.QueueMode, &in.Leader, &in.StateVersion); err != nil {
			return nil, fmt.Errorf("list instances: scan: %w", err)
		}
		in.StartedAt, in.LastSeen = fromMicros(started), fromMicros(lastS)
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return out, nil
}

// ConfirmState records that id has applied the scheduler state version; the
// version never goes down. It tells this process's waiters (StateChanged).
func (s *Store) ConfirmState(ctx context.Context, id string, version int64) error {
	res, err := s.write.ExecContext(ctx, "UPDATE instances SET state_version = ?2 WHERE id = ?1 AND state_version < ?2", id, version)
	if err != nil {
		return fmt.Errorf("confirm state version %d of %s: %w", version, id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		s.states.Broadcast()
	}
	return nil
}

// RemoveInstance deletes id's row.
func (s *Store) RemoveInstance(ctx context.Context, id string) error {
	if _, err := s.write.ExecContext(ctx, "DELETE FROM instances WHERE id = ?", id); err != nil {
		return fmt.Errorf("remove instance %s: %w", id, err)
	}
	return nil
}

// PruneInstances deletes the rows last seen before seenBefore.
func (s *Store) PruneInstances(ctx context.Context, seenBefore time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, "DELETE FROM instances WHERE last_seen < ?", micros(seenBefore))
	if err != nil {
		return 0, fmt.Errorf("prune instances: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune instances: %w", err)
	}
	return int(n), nil
}
