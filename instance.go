package ims

import (
	"context"
	"time"
)

// Instance is one running IMS process as the fleet sees it: each instance
// writes its own row every DefaultHeartbeat (Heartbeat), so that any instance
// can list the fleet from the shared database.
type Instance struct {
	ID        string    `json:"id"`
	StartedAt time.Time `json:"started_at"`
	// LastSeen is when the store last took a heartbeat from the instance,
	// by the store's clock (like the leader lease), so that instances with
	// skewed clocks still compare.
	LastSeen  time.Time `json:"last_seen"`
	Version   string    `json:"version"`
	QueueMode string    `json:"queue_mode"`
	// Leader is whether the instance held the leader lease at its last
	// heartbeat.
	Leader bool `json:"leader"`
	// StateVersion is the scheduler state version (SchedulerState.Version)
	// the instance has applied and confirmed (ConfirmState); 0 before its
	// first confirmation. A stop waits for the live instances to reach it.
	StateVersion int64 `json:"state_version"`
}

// Heartbeat timing: an instance beats every DefaultHeartbeat; one not seen
// for InstanceStaleAfter is shown stale, and its row is pruned after
// InstancePruneAfter (a crashed or killed instance never removes its own).
const (
	DefaultHeartbeat   = 5 * time.Second
	InstanceStaleAfter = 3 * DefaultHeartbeat
	InstancePruneAfter = 10 * DefaultHeartbeat
)

// InstanceStale reports whether an instance last seen at lastSeen is stale
// at now: it missed about three heartbeats.
func InstanceStale(lastSeen, now time.Time) bool {
	return now.Sub(lastSeen) > InstanceStaleAfter
}

// InstanceStore keeps the fleet's heartbeats.
type InstanceStore interface {
	// Heartbeat stores inst (ID, StartedAt, Version, QueueMode, Leader),
	// inserting or replacing its row, with LastSeen the store's now.
	Heartbeat(ctx context.Context, inst Instance) error
	// ListInstances returns the instances seen at or after seenSince,
	// ordered by ID.
	ListInstances(ctx context.Context, seenSince time.Time) ([]Instance, error)
	// ConfirmState records that instance id has applied the scheduler state
	// version (and so starts no call the state forbids). The stored version
	// never goes down; no row is no error (the next heartbeat inserts it,
	// and an instance without a row is not waited for).
	ConfirmState(ctx context.Context, id string, version int64) error
	// RemoveInstance deletes id's row (a clean shutdown); no row is no error.
	RemoveInstance(ctx context.Context, id string) error
	// PruneInstances deletes the rows last seen before seenBefore and
	// returns how many it deleted.
	PruneInstances(ctx context.Context, seenBefore time.Time) (int, error)
}

// StateWatcher is implemented by stores that tell at once when the scheduler
// state changed or an instance confirmed it (PostgreSQL NOTIFY, an
// in-process signal for SQLite), so a stop is seen and confirmed across the
// fleet in milliseconds rather than a poll interval.
type StateWatcher interface {
	// StateChanged returns a channel closed at the next change or
	// confirmation after the call: take it before reading, then wait.
	// Every caller gets the signal (it is a broadcast).
	StateChanged() <-chan struct{}
}
