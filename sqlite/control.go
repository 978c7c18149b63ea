package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// leaseName is the leader lease's row: one lease, for the scheduler.
const leaseName = "scheduler"

// InitSchedulerState stores running if no state is stored yet and returns the
// stored state either way.
func (s *Store) InitSchedulerState(ctx context.Context, running bool, actor string) (ims.SchedulerState, error) {
	now := s.now()
	var st ims.SchedulerState
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO scheduler_state (id, running, updated_at, updated_by, version)
			VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, running, micros(now), actor, ims.FirstSchedulerVersion); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		var err error
		st, err = schedulerState(ctx, tx)
		return err
	})
	if err != nil {
		return ims.SchedulerState{}, fmt.Errorf("init scheduler state: %w", err)
	}
	return st, nil
}

// SchedulerState returns the stored state; with none stored, stopped.
func (s *Store) SchedulerState(ctx context.Context) (ims.SchedulerState, error) {
	st, err := schedulerState(ctx, s.read)
	if err != nil {
		return ims.SchedulerState{}, fmt.Errorf("scheduler state: %w", err)
	}
	return st, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schedulerState(ctx context.Context, q querier) (ims.SchedulerState, error) {
	var (
		st ims.SchedulerState
		at int64
	)
	err := q.QueryRowContext(ctx, `SELECT running, updated_at, updated_by, version FROM scheduler_state WHERE id = 1`).
		Scan(&st.Running, &at, &st.UpdatedBy, &st.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return ims.SchedulerState{}, nil
	} else if err != nil {
		return ims.SchedulerState{}, fmt.Errorf("read scheduler state: %w", err)
	}
	st.UpdatedAt = fromMicros(at)
	return st, nil
}

// SetSchedulerRunning stores the state and its audit event in one transaction.
func (s *Store) SetSchedulerRunning(ctx context.Context, running bool, actor string) (ims.SchedulerState, error) {
	now := s.now()
	var version int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The version is bumped by the statement that changes the state.
		if err := tx.QueryRowContext(ctx, `INSERT INTO scheduler_state (id, running, updated_at, updated_by, version)
			VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET running = ?1, updated_at = ?2, updated_by = ?3,
			version = version + 1 RETURNING version`,
			running, micros(now), actor, ims.FirstSchedulerVersion).Scan(&version); err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		return insertAudit(ctx, tx, ims.SchedulerEvent(running), "", actor, "", now)
	})
	if err != nil {
		return ims.SchedulerState{}, fmt.Errorf("set scheduler running: %w", err)
	}
	s.states.Broadcast()
	return ims.SchedulerState{Running: running, UpdatedAt: now, UpdatedBy: actor, Version: version}, nil
}

// AcquireLeadership takes or renews the leader lease for instance when it is
// free, expired or already instance's, and returns the lease either way.
func (s *Store) AcquireLeadership(ctx context.Context, instance string, ttl time.Duration) (ims.Leadership, error) {
	now := s.now()
	var l ims.Leadership
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, found, err := readLease(ctx, tx)
		if err != nil {
			return err
		}
		if found && cur.Holder != instance && cur.ExpiresAt.After(now) {
			l = cur // held by another instance
			return nil
		}
		l = ims.Leadership{Holder: instance, ExpiresAt: now.Add(ttl)}
		if _, err := tx.ExecContext(ctx, `INSERT INTO leader_lease (name, holder, expires_at) VALUES (?1, ?2, ?3)
			ON CONFLICT (name) DO UPDATE SET holder = ?2, expires_at = ?3`, leaseName, instance, micros(l.ExpiresAt)); err != nil {
			return fmt.Errorf("upsert lease: %w", err)
		}
		if found && cur.Holder == instance {
			return nil
		}
		details := ""
		if found {
			details = "took over from " + cur.Holder
		}
		return insertAudit(ctx, tx, ims.EventLeaderElected, "", instance, details, now)
	})
	if err != nil {
		return ims.Leadership{}, fmt.Errorf("acquire leadership: %w", err)
	}
	return l, nil
}

func readLease(ctx context.Context, tx *sql.Tx) (ims.Leadership, bool, error) {
	var (
		l  ims.Leadership
		at int64
	)
	err := tx.QueryRowContext(ctx, `SELECT holder, expires_at FROM leader_lease WHERE name = ?`, leaseName).
		Scan(&l.Holder, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return ims.Leadership{}, false, nil
	} else if err != nil {
		return ims.Leadership{}, false, fmt.Errorf("read lease: %w", err)
	}
	l.ExpiresAt = fromMicros(at)
	return l, true, nil
}

// ResignLeadership expires the lease now if instance holds it, so another
// instance can take over without waiting for the TTL.
func (s *Store) ResignLeadership(ctx context.Context, instance string) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE leader_lease SET expires_at = MIN(expires_at, ?)
		WHERE name = ? AND holder = ?`, micros(s.now()), leaseName, instance); err != nil {
		return fmt.Errorf("resign leadership: %w", err)
	}
	return nil
}
