// Package scheduler is the delivery engine: it paces the fleet (one leader
// claims SCHEDULER_BATCH_SIZE due messages every SCHEDULER_INTERVAL), runs the
// bounded worker pool that calls the webhook, and records outcomes in batches.
//
// Follow a message through it in this order: dispatch.go (when to claim, and
// the claim), provider.go (the fleet's circuit breaker and rate limit, asked
// before a claim and before a call, told every result), handoff.go and the queue mode's handoff_*.go (hand the claims to
// this instance's workers, or publish them for every instance's consumers),
// worker.go (call the webhook, apply the retry policy), completer.go (store
// outcomes in batches), control.go (start/stop and leadership).
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
)

// Config tunes the engine. Zero values take the defaults of validate; a
// value set out of range is an error.
type Config struct {
	Instance    string        // this instance's name, recorded as leader and actor
	Mode        string        // ModeDB or ModeRabbitMQ
	Interval    time.Duration // 0 = continuous: as fast as the workers go
	BatchSize   int           // messages per interval (paced) or per claim (continuous)
	Concurrency int           // webhook calls in flight on this instance
	// DeliveryTimeout is the webhook timeout; Lease must exceed it.
	DeliveryTimeout time.Duration
	Lease           time.Duration
	// HandoverLease is the lease of a claim published to the queue and not
	// yet picked up by a consumer (RabbitMQ mode).
	HandoverLease time.Duration
	LeaderTTL     time.Duration
	PollInterval  time.Duration // fallback poll when no wakeup arrives
	// ShutdownTimeout bounds finishing in-flight deliveries at shutdown;
	// RecordTimeout (default 5s) is the time left after it for storing the
	// last outcomes and releases. Past both, the shutdown gives up on what
	// is not stored: the leases expire and the messages are delivered again.
	ShutdownTimeout time.Duration
	RecordTimeout   time.Duration
	Retry           ims.RetryPolicy
	// Breaker and Rate are the fleet-wide circuit breaker and rate limit
	// (WEBHOOK_BREAKER_*, WEBHOOK_RATE_*); zero fields take their defaults.
	Breaker   ims.BreakerPolicy
	Rate      ims.RatePolicy
	AutoStart bool // running state of a new database
	// MaxQueued bounds entries waiting in the queue (RabbitMQ mode), so a
	// backlog stays in the database where it is cheap, not in the broker.
	MaxQueued int

	// RateUnit is what Rate counts (WEBHOOK_RATE_UNIT); "" is messages.
	RateUnit ims.RateUnit
	// QuietHours holds a claimed message whose recipient's local time is
	// inside the window (QUIET_HOURS; zero = off): it is handed back, due
	// at the window's end, without a webhook call (see quiethours.go).
	QuietHours ims.QuietHours
}

func (c *Config) validate() error {
	if c.Instance == "" {
		return errors.New("scheduler: Instance is required")
	}
	if c.Mode == "" {
		c.Mode = ModeDB
	}
	if _, ok := modes[c.Mode]; !ok {
		return fmt.Errorf("scheduler: unknown mode %q", c.Mode)
	}
	if c.Interval < 0 {
		return errors.New("scheduler: Interval must not be negative")
	}
	c.BatchSize = max(c.BatchSize, 1)
	c.Concurrency = max(c.Concurrency, 1)
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = 30 * time.Second
	}
	// Leases left zero take defaults; a lease set too short is refused, not
	// raised behind the operator's back.
	if c.Lease == 0 {
		c.Lease = ims.LeaseFor(c.DeliveryTimeout)
	}
	if c.Lease <= c.DeliveryTimeout {
		return fmt.Errorf("scheduler: Lease (%s) must exceed DeliveryTimeout (%s): a call still in flight must never be claimed again", c.Lease, c.DeliveryTimeout)
	}
	if c.HandoverLease == 0 {
		c.HandoverLease = max(ims.DefaultHandoverLease, c.Lease)
	}
	if c.HandoverLease < c.Lease {
		return fmt.Errorf("scheduler: HandoverLease (%s) must be at least Lease (%s): a published claim must outlast a consumer's renewal", c.HandoverLease, c.Lease)
	}
	if c.RecordTimeout <= 0 {
		c.RecordTimeout = 5 * time.Second
	}
	if c.LeaderTTL <= 0 {
		c.LeaderTTL = 5 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	c.Breaker, c.Rate = c.Breaker.WithDefaults(), c.Rate.WithDefaults()
	if c.Breaker.ProbeLease < c.Lease {
		// An unanswered probe is given up only once its lease is over: a
		// slow probe must not get company.
		c.Breaker.ProbeLease = c.Lease
	}
	if err := c.Breaker.Validate(); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	if err := c.Rate.Validate(); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = max(4*c.BatchSize, 1000)
	}
	return nil
}

// CacheWriter takes sent-cache entries without ever blocking (redis.AsyncWriter).
type CacheWriter interface {
	Enqueue(entries ...ims.SentCacheEntry)
}

// Deps are the engine's collaborators. Store and Webhook are required, Queue
// in RabbitMQ mode; the rest are optional.
type Deps struct {
	Store   ims.Store
	Webhook ims.Webhook
	Queue   ims.Queue
	Cache   CacheWriter
	// Observer receives metrics events; nil = none.
	Observer Observer
	Logger   *slog.Logger
	// Clock and After are injectable so tests drive time instead of sleeping.
	Clock ims.Clock
	After func(d time.Duration) <-chan time.Time
	// Jitter returns a number in [0,1) for retry backoff.
	Jitter func() float64
	// signals is for tests only (see testSignals); nil in production.
	signals *testSignals
}

// Scheduler is the engine of one instance. It implements ims.SchedulerControl.
type Scheduler struct {
	cfg    Config
	store  ims.Store
	hook   ims.Webhook
	obs    Observer
	log    *slog.Logger
	now    ims.Clock
	after  func(d time.Duration) <-chan time.Time
	jitter func() float64
	sig    *testSignals

	// handoff is the queue mode's way to deliver claims; dispatchLoop the
	// pacing's way to claim them (paced or continuous); leaderOnly whether
	// only the leader claims. New chooses all three, once.
	handoff      handoff
	dispatchLoop func(ctx, deliverCtx context.Context)
	leaderOnly   bool

	// running mirrors state.Running for the hot paths; both change together
	// under stateMu (see applyState).
	running atomic.Bool
	loaded  atomic.Bool // Load has succeeded
	leader  atomic.Pointer[ims.Leadership]
	stateMu sync.Mutex
	state   ims.SchedulerState // the newest stored state seen
	changed chan struct{}      // a start/stop or leadership change to react to
	// gate holds a stop until this instance's calls past their last check
	// are on the wire (stopgate.go).
	gate stopGate
	// workers bounds webhook calls in flight on this instance to
	// Concurrency in RabbitMQ mode (one consumer handler per prefetched
	// entry); the database mode's pool has Concurrency workers.
	workers  chan struct{}
	complete *completer
	// prov gates calls on the fleet's circuit and rate (provider.go).
	prov *provider
	// gateUntil is when the gate said to ask again after it held a claim
	// back; only the dispatch loop touches it.
	gateUntil time.Time
	wg        sync.WaitGroup
}

// New builds an engine; Run starts it.
func New(cfg Config, deps Deps) (*Scheduler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Webhook == nil {
		return nil, errors.New("scheduler: Store and Webhook are required")
	}
	s := &Scheduler{
		cfg: cfg, store: deps.Store, hook: deps.Webhook,
		obs: deps.Observer, log: deps.Logger, now: deps.Clock, after: deps.After, jitter: deps.Jitter,
		sig:     deps.signals,
		changed: make(chan struct{}, 1),
		workers: make(chan struct{}, cfg.Concurrency),
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	s.log = logging.OrDiscard(s.log)
	if s.now == nil {
		s.now = time.Now
	}
	if s.after == nil {
		s.after = time.After
	}
	if s.jitter == nil {
		s.jitter = rand.Float64
	}
	s.leader.Store(&ims.Leadership{})
	s.complete = newCompleter(s, deps.Cache)
	s.prov = newProvider(s)
	h, err := modes[cfg.Mode](s, deps)
	if err != nil {
		return nil, err
	}
	s.handoff = h
	s.complete.flushers = h.commitsInFlight()
	// A pace is the fleet's, so only the leader claims when paced.
	s.dispatchLoop, s.leaderOnly = s.continuousLoop, h.leaderClaims()
	if cfg.Interval > 0 {
		s.dispatchLoop, s.leaderOnly = s.pacedLoop, true
	}
	return s, nil
}

func (s *Scheduler) actor() string { return "scheduler:" + s.cfg.Instance }

// Run runs the engine until ctx ends, then stops claiming, lets in-flight
// deliveries finish within ShutdownTimeout (cancelling the rest), records
// every outcome it can within RecordTimeout more and gives up leadership.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.loaded.Load() {
		if err := s.Load(ctx); err != nil {
			return err
		}
	}
	s.log.Info("scheduler ready", "instance", s.cfg.Instance, "running", s.running.Load(), "mode", s.cfg.Mode,
		"interval", s.cfg.Interval, "batch_size", s.cfg.BatchSize, "concurrency", s.cfg.Concurrency,
		"leader", s.leader.Load().Holder)

	// Deliveries and writes outlive ctx, up to the shutdown's deadlines, so
	// they get their own contexts.
	deliverCtx, cancelDeliveries := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDeliveries()
	writeCtx, giveUpWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer giveUpWrites()
	completerCtx, stopCompleter := context.WithCancel(context.WithoutCancel(ctx))
	completerDone := make(chan struct{})
	go func() { defer close(completerDone); s.complete.run(completerCtx, writeCtx) }()

	s.goLoop(func() { s.watchState(ctx) })
	s.goLoop(func() { s.prov.watch(ctx, s.after, s.logTransient) })
	s.goLoop(func() { s.dispatchLoop(ctx, deliverCtx) })
	stopHandoff := s.handoff.start(ctx, deliverCtx)

	<-ctx.Done()
	finished := make(chan struct{})
	s.drain(cancelDeliveries, giveUpWrites, finished)
	stopHandoff()
	stopCompleter()
	<-completerDone
	close(finished)
	s.resign(writeCtx)
	return nil
}

// Load reads the stored state (storing AutoStart's for a new database) and
// the leadership, so LocalStatus is true before Run's loops start. Call it
// once at boot, before the API serves; Run calls it only if it was not.
func (s *Scheduler) Load(ctx context.Context) error {
	began := s.now()
	st, err := s.store.InitSchedulerState(ctx, s.cfg.AutoStart, s.actor())
	if err != nil {
		return fmt.Errorf("load scheduler state: %w", err)
	}
	s.noteStateRead(began)
	s.applyState(st)
	if err := s.prov.refresh(ctx); err != nil {
		return fmt.Errorf("load provider state: %w", err)
	}
	s.refreshLeadership(ctx)
	s.loaded.Store(true)
	return nil
}

func (s *Scheduler) goLoop(f func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); f() }()
}

// drain waits for the loops and the deliveries they started, cancelling the
// deliveries still running after ShutdownTimeout (they are then released),
// and gives up the writes still failing RecordTimeout later, unless finished
// closes first. Both deadlines start now, so they bound the whole shutdown.
func (s *Scheduler) drain(cancelDeliveries, giveUpWrites context.CancelFunc, finished <-chan struct{}) {
	deliveries := s.after(s.cfg.ShutdownTimeout)
	writes := s.after(s.cfg.ShutdownTimeout + s.cfg.RecordTimeout)
	go func() {
		select {
		case <-writes:
			s.log.Warn("shutdown deadline reached: outcomes not yet stored are left to lease expiry")
			giveUpWrites()
		case <-finished:
		}
	}()
	s.sig.drainBegan()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-deliveries:
		s.log.Warn("shutdown timeout reached: cancelling in-flight deliveries; they will be released")
		cancelDeliveries()
	}
	<-done
}

func (s *Scheduler) resign(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if s.leader.Load().Holder != s.cfg.Instance {
		return
	}
	if err := s.store.ResignLeadership(ctx, s.cfg.Instance); err != nil {
		s.log.Warn("resign leadership", "err", err)
	}
}

// acquireWorker waits for a free worker; false when ctx ended first.
func (s *Scheduler) acquireWorker(ctx context.Context) bool {
	select {
	case s.workers <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Scheduler) releaseWorker() { <-s.workers }

// signal wakes the dispatch loop without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
