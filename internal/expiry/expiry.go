// Package expiry moves messages not sent by their expiry to expired, so the
// status is right when a message is listed, not only when the scheduler
// next looks at it (claims skip such messages; nothing else would move
// them). It runs on the leader only, every Config.Every, in small batches,
// like the retention purge.
package expiry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
)

// Config says how often and how much the sweeper moves.
type Config struct {
	// Every is the time between sweeps (default 2s): how long an expired
	// message may still read pending.
	Every time.Duration
	// BatchSize bounds the rows of one statement (default 1000).
	BatchSize int
	// Actor signs the message.expired events (default "expiry").
	Actor string
}

func (c *Config) validate() error {
	if c.Every < 0 || c.BatchSize < 0 {
		return errors.New("expiry: Every and BatchSize must not be negative")
	}
	if c.Every == 0 {
		c.Every = 2 * time.Second
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.Actor == "" {
		c.Actor = "expiry"
	}
	return nil
}

// Observer receives the counts, for metrics.
type Observer interface {
	Expired(reason ims.ExpiryReason, n int)
}

// Deps are the sweeper's collaborators. Store, IsLeader and Running are
// required.
type Deps struct {
	Store ims.ExpiryStore
	// IsLeader says whether this instance leads the fleet now; only the
	// leader sweeps, so instances do not compete for the same rows.
	IsLeader func() bool
	// Running says whether the fleet's scheduler is started: a message that
	// expired while it was stopped says so in its event.
	Running func() bool
	// Circuit and Rate, when set, say what held the fleet back (the breaker
	// and the rate limit), for the reason of each expiry; nil reads as a
	// closed circuit and no pause.
	Circuit func() ims.Circuit
	Rate    func() ims.RateState
	// Observer is nil for none.
	Observer Observer
	Logger   *slog.Logger
	// Clock and After are injectable so tests drive time instead of sleeping.
	Clock ims.Clock
	After func(d time.Duration) <-chan time.Time
}

// Service runs the sweeps.
type Service struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
}

// New builds the sweeper; Run starts it.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.IsLeader == nil || deps.Running == nil {
		return nil, errors.New("expiry: Store, IsLeader and Running are required")
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.After == nil {
		deps.After = time.After
	}
	return &Service{cfg: cfg, deps: deps, log: logging.OrDiscard(deps.Logger)}, nil
}

// Run sweeps every Every while this instance leads, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.deps.After(s.cfg.Every):
		}
		if !s.deps.IsLeader() {
			continue
		}
		if _, err := s.RunOnce(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("expiry sweep failed; will retry", "err", err)
		}
	}
}

// Reason is why messages found past their expiry now expired, judged from
// what holds the fleet (ims.ExpiryReasonFor).
func (s *Service) Reason() ims.ExpiryReason {
	var c ims.Circuit
	if s.deps.Circuit != nil {
		c = s.deps.Circuit()
	}
	var r ims.RateState
	if s.deps.Rate != nil {
		r = s.deps.Rate()
	}
	return ims.ExpiryReasonFor(s.deps.Running(), c, r, s.deps.Clock())
}

// RunOnce moves every message expired now, batch by batch, and returns how
// many it moved. It stops early when this instance stops leading.
func (s *Service) RunOnce(ctx context.Context) (int, error) {
	why := s.Reason()
	total := 0
	for {
		n, err := s.deps.Store.ExpireDue(ctx, why, s.cfg.Actor, s.cfg.BatchSize)
		if n > 0 {
			total += n
			if s.deps.Observer != nil {
				s.deps.Observer.Expired(why, n)
			}
		}
		if err != nil {
			return total, fmt.Errorf("expire messages: %w", err)
		}
		if n < s.cfg.BatchSize || !s.deps.IsLeader() {
			break
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	if total > 0 {
		s.log.Info("messages expired", "count", total, "reason", string(why))
	}
	return total, nil
}
