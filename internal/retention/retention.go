// Package retention deletes what has outlived its retention: sent, canceled,
// dead and expired messages (with their attempts) and old audit events. It runs on
// the leader only, every Config.Every, in small batches, and writes one
// retention.purged audit event per run that deleted anything.
package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
)

// Kinds of purged rows: the label values of ims_retention_purged_total and
// the keys of the retention.purged event's details.
const (
	KindSent     = "sent"
	KindCanceled = "canceled"
	KindDead     = "dead"
	KindExpired  = "expired"
	KindAudit    = "audit"
)

// Config says how long things are kept. A retention of 0 keeps them forever.
type Config struct {
	Sent  time.Duration // sent and canceled messages, from sent_at / updated_at
	Dead  time.Duration // dead and expired messages, from updated_at
	Audit time.Duration // audit events, from created_at
	// Every is the time between runs (default 1m).
	Every time.Duration
	// BatchSize bounds the rows of one delete statement (default 1000).
	BatchSize int
	// Actor signs the retention.purged events (default "retention").
	Actor string
}

func (c *Config) validate() error {
	if c.Sent < 0 || c.Dead < 0 || c.Audit < 0 {
		return errors.New("retention: retentions must not be negative")
	}
	if c.Every < 0 || c.BatchSize < 0 {
		return errors.New("retention: Every and BatchSize must not be negative")
	}
	if c.Every == 0 {
		c.Every = time.Minute
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.Actor == "" {
		c.Actor = "retention"
	}
	return nil
}

// Store is what the service needs of ims.Store.
type Store interface {
	ims.RetentionStore
	AppendAudit(ctx context.Context, events []ims.AuditEvent) error
}

// Observer receives the counts, for metrics (metrics.Metrics).
type Observer interface {
	Purged(kind string, n int)
}

// Deps are the service's collaborators. Store and IsLeader are required.
type Deps struct {
	Store Store
	// IsLeader says whether this instance leads the fleet now; only the
	// leader purges, so instances do not compete for the same rows.
	IsLeader func() bool
	Observer Observer // nil = none
	Logger   *slog.Logger
	// Clock and After are injectable so tests drive time instead of sleeping.
	Clock ims.Clock
	After func(d time.Duration) <-chan time.Time
}

// Service runs the purges.
type Service struct {
	cfg      Config
	store    Store
	isLeader func() bool
	obs      Observer
	log      *slog.Logger
	now      ims.Clock
	after    func(d time.Duration) <-chan time.Time
}

// New builds the service; Run starts it.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.IsLeader == nil {
		return nil, errors.New("retention: Store and IsLeader are required")
	}
	s := &Service{cfg: cfg, store: deps.Store, isLeader: deps.IsLeader, obs: deps.Observer,
		log: deps.Logger, now: deps.Clock, after: deps.After}
	s.log = logging.OrDiscard(s.log)
	if s.now == nil {
		s.now = time.Now
	}
	if s.after == nil {
		s.after = time.After
	}
	return s, nil
}

// Enabled reports whether anything is ever purged.
func (s *Service) Enabled() bool { return s.cfg.Sent > 0 || s.cfg.Dead > 0 || s.cfg.Audit > 0 }

// Run purges every Every while this instance leads, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	if !s.Enabled() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.after(s.cfg.Every):
		}
		if !s.isLeader() {
			continue
		}
		if _, err := s.RunOnce(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("retention purge failed; will retry", "err", err)
		}
	}
}

// Counts is what one run deleted, by kind.
type Counts map[string]int

func (c Counts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// RunOnce purges everything expired now, batch by batch, and records the
// run. What it deleted before an error is still recorded.
func (s *Service) RunOnce(ctx context.Context) (Counts, error) {
	now := s.now()
	counts := Counts{}
	err := s.purgeAll(ctx, now, counts)
	if counts.total() > 0 {
		if aerr := s.record(ctx, counts); aerr != nil {
			err = errors.Join(err, aerr)
		}
	}
	return counts, err
}

func (s *Service) purgeAll(ctx context.Context, now time.Time, counts Counts) error {
	type job struct {
		kind   string
		keep   time.Duration
		delete func(ctx context.Context, cut time.Time, limit int) (int, error)
	}
	messages := func(st ims.Status) func(context.Context, time.Time, int) (int, error) {
		return func(ctx context.Context, cut time.Time, limit int) (int, error) {
			return s.store.PurgeMessages(ctx, st, cut, limit)
		}
	}
	jobs := []job{
		{KindSent, s.cfg.Sent, messages(ims.StatusSent)},
		{KindCanceled, s.cfg.Sent, messages(ims.StatusCanceled)},
		{KindDead, s.cfg.Dead, messages(ims.StatusDead)},
		{KindExpired, s.cfg.Dead, messages(ims.StatusExpired)},
		{KindAudit, s.cfg.Audit, s.store.PurgeAudit},
	}
	var errs []error
	for _, j := range jobs {
		if j.keep <= 0 {
			continue
		}
		// A failing kind does not hold the others up; it is retried next run.
		if err := s.purge(ctx, j.kind, now.Add(-j.keep), j.delete, counts); err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// purge deletes one kind batch by batch. One statement per batch holds its
// locks only briefly; a batch smaller than the limit means nothing older is
// left. It stops early when this instance stops leading.
func (s *Service) purge(ctx context.Context, kind string, cut time.Time,
	del func(ctx context.Context, cut time.Time, limit int) (int, error), counts Counts) error {
	for {
		n, err := del(ctx, cut, s.cfg.BatchSize)
		if n > 0 {
			counts[kind] += n
			if s.obs != nil {
				s.obs.Purged(kind, n)
			}
		}
		if err != nil {
			return fmt.Errorf("purge %s: %w", kind, err)
		}
		if n < s.cfg.BatchSize || !s.isLeader() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("purge %s: %w", kind, err)
		}
	}
}

// record writes the run's one audit event. Its details are JSON with a count
// per kind, e.g. {"audit":120,"canceled":0,"dead":3,"sent":4000}.
func (s *Service) record(ctx context.Context, counts Counts) error {
	details := map[string]int{KindSent: 0, KindCanceled: 0, KindDead: 0, KindExpired: 0, KindAudit: 0}
	for k, v := range counts {
		details[k] = v
	}
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("encode purge counts: %w", err)
	}
	// The run's own context may have ended (shutdown): what was deleted
	// must still be on the trail.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ev := ims.AuditEvent{Type: ims.EventRetentionPurged, Actor: s.cfg.Actor, Details: string(b), CreatedAt: s.now()}
	if err := s.store.AppendAudit(actx, []ims.AuditEvent{ev}); err != nil {
		return fmt.Errorf("record purge: %w", err)
	}
	s.log.Info("retention purged", "sent", details[KindSent], "canceled", details[KindCanceled],
		"dead", details[KindDead], "expired", details[KindExpired], "audit", details[KindAudit])
	return nil
}
