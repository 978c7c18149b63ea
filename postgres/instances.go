package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// Heartbeat stores inst's row with last_seen the store's now.
func (s *Store) Heartbeat(ctx context.Context, inst ims.Instance) (err error) {
	defer classify(&err)
	_, err = s.pool.Exec(ctx, `INSERT INTO instances (id, started_at, last_seen, version, queue_mode, leader)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET started_at = EXCLUDED.started_at, last_seen = EXCLUDED.last_seen,
			version = EXCLUDED.version, queue_mode = EXCLUDED.queue_mode, leader = EXCLUDED.leader`,
		inst.ID, micro(inst.StartedAt), s.now(), inst.Version, inst.QueueMode, inst.Leader)
	if err != nil {
		return fmt.Errorf("heartbeat of %s: %w", inst.ID, err)
	}
	return nil
}

// ListInstances returns the instances seen at or after seenSince, by ID.
func (s *Store) ListInstances(ctx context.Context, seenSince time.Time) (_ []ims.Instance, err error) {
	defer classify(&err)
	rows, err := s.pool.Query(ctx, `SELECT id, started_at, last_seen, version, queue_mode, leader, state_version
		FROM instances WHERE last_seen >= $1 ORDER BY id`, micro(seenSince))
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	out := []ims.Instance{}
	for rows.Next() {
		var in ims.Instance
		if err := rows.Scan(&in.ID, &in.StartedAt, &in.LastSeen, &in.Version, &in.QueueMode, &in.Leader, &in.StateVersion); err != nil {
			return nil, fmt.Errorf("list instances: scan: %w", err)
		}
		in.StartedAt, in.LastSeen = in.StartedAt.UTC(), in.LastSeen.UTC()
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return out, nil
}

// confirmStateSQL raises id's confirmed version, never lowers it, and tells
// the fleet (the stopper waits for it) in the same statement: the
// notification is delivered when the update commits.
const confirmStateSQL = `
WITH up AS (
	UPDATE instances SET state_version = $2 WHERE id = $1 AND state_version < $2 RETURNING 1
)
SELECT pg_notify($3, $4) FROM up`

// ConfirmState records that id has applied the scheduler state version.
func (s *Store) ConfirmState(ctx context.Context, id string, version int64) (err error) {
	defer classify(&err)
	if _, err = s.pool.Exec(ctx, confirmStateSQL, id, version, s.channel, statePayload); err != nil {
		return fmt.Errorf("confirm state version %d of %s: %w", version, id, err)
	}
	return nil
}

// RemoveInstance deletes id's row.
func (s *Store) RemoveInstance(ctx context.Context, id string) (err error) {
	defer classify(&err)
	if _, err = s.pool.Exec(ctx, "DELETE FROM instances WHERE id = $1", id); err != nil {
		return fmt.Errorf("remove instance %s: %w", id, err)
	}
	return nil
}

// PruneInstances deletes the rows last seen before seenBefore.
func (s *Store) PruneInstances(ctx context.Context, seenBefore time.Time) (_ int, err error) {
	defer classify(&err)
	tag, err := s.pool.Exec(ctx, "DELETE FROM instances WHERE last_seen < $1", micro(seenBefore))
	if err != nil {
		return 0, fmt.Errorf("prune instances: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
