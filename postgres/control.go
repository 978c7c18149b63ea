package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// InitSchedulerState stores running as the state unless one is stored, and
// returns the stored state.
func (s *Store) InitSchedulerState(ctx context.Context, running bool, actor string) (_ ims.SchedulerState, err error) {
	defer classify(&err)
	_, err = s.pool.Exec(ctx, `INSERT INTO scheduler_state (id, running, updated_at, updated_by, version)
		VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`, running, s.now(), actor, ims.FirstSchedulerVersion)
	if err != nil {
		return ims.SchedulerState{}, fmt.Errorf("init scheduler state: %w", err)
	}
	return s.SchedulerState(ctx)
}

// SchedulerState returns the stored state; not running when none is stored.
func (s *Store) SchedulerState(ctx context.Context) (_ ims.SchedulerState, err error) {
	defer classify(&err)
	var st ims.SchedulerState
	err = s.pool.QueryRow(ctx, "SELECT running, updated_at, updated_by, version FROM scheduler_state WHERE id = 1").
		Scan(&st.Running, &st.UpdatedAt, &st.UpdatedBy, &st.Version)
	if isNoRows(err) {
		return ims.SchedulerState{}, nil
	} else if err != nil {
		return ims.SchedulerState{}, fmt.Errorf("read scheduler state: %w", err)
	}
	st.UpdatedAt = st.UpdatedAt.UTC()
	return st, nil
}

// setRunningSQL bumps the version in the statement that changes the state,
// so two changes can never share a version, and tells the fleet with a
// notification delivered at commit. $5 is ims.FirstSchedulerVersion, $6 the
// channel and $7 statePayload.
var setRunningSQL = `
WITH st AS (
	INSERT INTO scheduler_state (id, running, updated_at, updated_by, version) VALUES (1, $1, $2, $3, $5)
	ON CONFLICT (id) DO UPDATE SET running = EXCLUDED.running, updated_at = EXCLUDED.updated_at,
		updated_by = EXCLUDED.updated_by, version = scheduler_state.version + 1
	RETURNING running, updated_at, updated_by, version
),
audit AS (
	INSERT INTO audit_events (type, actor, details, created_at) VALUES ($4, $3, '', $2)
)
SELECT running, updated_at, updated_by, version FROM st CROSS JOIN pg_notify($6, $7)`

// SetSchedulerRunning stores the state with its audit event.
func (s *Store) SetSchedulerRunning(ctx context.Context, running bool, actor string) (_ ims.SchedulerState, err error) {
	defer classify(&err)
	var st ims.SchedulerState
	err = s.pool.QueryRow(ctx, setRunningSQL, running, s.now(), actor, ims.SchedulerEvent(running), ims.FirstSchedulerVersion,
		s.channel, statePayload).
		Scan(&st.Running, &st.UpdatedAt, &st.UpdatedBy, &st.Version)
	if err != nil {
		return ims.SchedulerState{}, fmt.Errorf("set scheduler running=%t: %w", running, err)
	}
	st.UpdatedAt = st.UpdatedAt.UTC()
	return st, nil
}

// leaderName is the one lease IMS elects on.
const leaderName = "scheduler"

// acquireSQL takes or renews the lease when it is free, expired or already
// ours, and reports the holder either way. cur locks the existing row first,
// so "did the holder change" is judged on the latest version, not on a
// snapshot a concurrent contender already made stale. $5 is the event type.
// up reads cur (the
// count) so that cur is materialized before up rewrites the row: read
// afterwards, FOR UPDATE would skip the row this statement itself changed.
const acquireSQL = `
WITH cur AS (
	SELECT holder, expires_at FROM leader_lease WHERE name = $1 FOR UPDATE
),
up AS (
	INSERT INTO leader_lease (name, holder, expires_at)
	SELECT $1, $2, $3 FROM (SELECT count(*) FROM cur) AS locked
	ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
	WHERE leader_lease.expires_at <= $4 OR leader_lease.holder = EXCLUDED.holder
	RETURNING holder, expires_at
),
audit AS (
	INSERT INTO audit_events (type, actor, details, created_at)
	SELECT $5::text, up.holder,
		coalesce((SELECT 'took over from ' || holder FROM cur), ''), $4
	FROM up
	WHERE NOT EXISTS (SELECT 1 FROM cur WHERE cur.holder = up.holder)
)
SELECT holder, expires_at FROM up
UNION ALL
SELECT holder, expires_at FROM cur WHERE NOT EXISTS (SELECT 1 FROM up)`

// AcquireLeadership takes or renews the leader lease for instance if it is
// free, expired or already instance's, and returns the current leadership.
func (s *Store) AcquireLeadership(ctx context.Context, instance string, ttl time.Duration) (_ ims.Leadership, err error) {
	defer classify(&err)
	now := s.now()
	for range 2 {
		var l ims.Leadership
		err := s.pool.QueryRow(ctx, acquireSQL, leaderName, instance, micro(now.Add(ttl)), now, ims.EventLeaderElected).
			Scan(&l.Holder, &l.ExpiresAt)
		if isNoRows(err) {
			// A contender inserted the first lease after our snapshot:
			// the rerun sees it.
			continue
		} else if err != nil {
			return ims.Leadership{}, fmt.Errorf("acquire leadership: %w", err)
		}
		l.ExpiresAt = l.ExpiresAt.UTC()
		return l, nil
	}
	return ims.Leadership{}, fmt.Errorf("acquire leadership: lease row kept changing")
}

// ResignLeadership expires the lease now if instance holds it, so another
// instance can take over at once instead of waiting out the TTL.
func (s *Store) ResignLeadership(ctx context.Context, instance string) (err error) {
	defer classify(&err)
	_, err = s.pool.Exec(ctx, "UPDATE leader_lease SET expires_at = $3 WHERE name = $1 AND holder = $2",
		leaderName, instance, s.now())
	if err != nil {
		return fmt.Errorf("resign leadership: %w", err)
	}
	return nil
}
