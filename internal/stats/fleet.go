package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
)

// DefaultRemoveTimeout bounds the removal of an instance's row when its
// heartbeat stops: the database may be the reason it stops.
const DefaultRemoveTimeout = 2 * time.Second

// FleetConfig tunes Fleet.
type FleetConfig struct {
	// Self is this instance: ID, StartedAt, Version and QueueMode are
	// stored with every heartbeat (LastSeen is the store's).
	Self ims.Instance
	// Leader, when set, tells whether this instance holds the leader lease
	// now, from memory (scheduler.Scheduler.LocalStatus knows).
	Leader func() bool
	// Every is the time between two heartbeats; zero means
	// ims.DefaultHeartbeat.
	Every time.Duration
	// QueryTimeout bounds one beat's store calls; zero means
	// DefaultQueryTimeout (and at most Every).
	QueryTimeout time.Duration
	// RemoveTimeout bounds the removal on stop; zero means
	// DefaultRemoveTimeout.
	RemoveTimeout time.Duration
	Logger        *slog.Logger
	// Clock and After are injectable so tests drive time.
	Clock ims.Clock
	After func(d time.Duration) <-chan time.Time
}

func (c FleetConfig) withDefaults() FleetConfig {
	if c.Every <= 0 {
		c.Every = ims.DefaultHeartbeat
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	c.QueryTimeout = min(c.QueryTimeout, c.Every)
	if c.RemoveTimeout <= 0 {
		c.RemoveTimeout = DefaultRemoveTimeout
	}
	if c.Leader == nil {
		c.Leader = func() bool { return false }
	}
	c.Logger = logging.OrDiscard(c.Logger)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	return c
}

// FleetSnapshot is the latest list of instances.
type FleetSnapshot struct {
	// Instances are the instances seen within ims.InstancePruneAfter, by
	// ID; nil before the first successful list.
	Instances []ims.Instance
	// RefreshedAt is when Instances was read; zero before.
	RefreshedAt time.Time
	// Err is the latest beat's failure, nil when it succeeded; Instances
	// then still holds the previous good list.
	Err error
}

// Fleet is this instance's heartbeat and the cached list of the fleet. Run
// is its only goroutine: every Every it writes this instance's row, prunes
// the rows of instances gone silent, and reads the list once, so the
// console's producer and its viewers only ever read memory. It costs three
// small statements per instance per Every and nothing per message.
type Fleet struct {
	cfg   FleetConfig
	store ims.InstanceStore

	mu   sync.Mutex
	snap FleetSnapshot
}

// NewFleet returns a heartbeat over store; nothing is written until Run or Beat.
func NewFleet(store ims.InstanceStore, cfg FleetConfig) *Fleet {
	return &Fleet{cfg: cfg.withDefaults(), store: store, snap: FleetSnapshot{Err: ErrNotListed}}
}

// ErrNotListed is the snapshot's error before the first list.
var ErrNotListed = errors.New("instances not listed yet")

// Run beats at once and then every Every until ctx ends, then removes this
// instance's row, so that a clean shutdown leaves the list at once (a
// killed instance's row is pruned by the others).
func (f *Fleet) Run(ctx context.Context) {
	for {
		f.Beat(ctx)
		select {
		case <-ctx.Done():
			f.remove(ctx)
			return
		case <-f.cfg.After(f.cfg.Every):
		}
	}
}

func (f *Fleet) remove(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.RemoveTimeout)
	defer cancel()
	if err := f.store.RemoveInstance(rctx, f.cfg.Self.ID); err != nil {
		f.cfg.Logger.Warn("remove this instance from the fleet list; the others prune it", "err", err)
	}
}

// Beat writes this instance's heartbeat, prunes the silent and re-reads the
// list, within QueryTimeout.
func (f *Fleet) Beat(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, f.cfg.QueryTimeout)
	defer cancel()
	list, err := f.beat(qctx)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down
		}
		f.cfg.Logger.Warn("instance heartbeat", "err", err)
		f.mu.Lock()
		f.snap.Err = err
		f.mu.Unlock()
		return
	}
	now := f.cfg.Clock()
	f.mu.Lock()
	f.snap = FleetSnapshot{Instances: list, RefreshedAt: now}
	f.mu.Unlock()
}

func (f *Fleet) beat(ctx context.Context) ([]ims.Instance, error) {
	self := f.cfg.Self
	self.Leader = f.cfg.Leader()
	if err := f.store.Heartbeat(ctx, self); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	cut := f.cfg.Clock().Add(-ims.InstancePruneAfter)
	if _, err := f.store.PruneInstances(ctx, cut); err != nil {
		return nil, fmt.Errorf("prune instances: %w", err)
	}
	list, err := f.store.ListInstances(ctx, cut)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return list, nil
}

// Snapshot returns the latest list; the caller may keep it.
func (f *Fleet) Snapshot() FleetSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	s.Instances = slices.Clone(s.Instances)
	return s
}
