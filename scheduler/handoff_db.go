package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/insiderone/ims"
)

// dbHandoff is database mode: this instance claims and delivers what it
// claimed, with Concurrency long-lived workers (so at most Concurrency
// webhook calls in flight) reading the claims from jobs.
type dbHandoff struct {
	s *Scheduler

	// mu guards held, reserved and ahead. held counts the messages claimed
	// and not yet finished, and the room a claim in progress has reserved
	// (reserved, until its messages are handed over); it stays within
	// Concurrency plus ahead.n, so the next claim's round trip overlaps
	// deliveries instead of leaving workers idle while it runs.
	mu       sync.Mutex
	held     int
	reserved int
	ahead    claimAhead
	// freed is signalled when held drops: reserve waits on it for room.
	freed chan struct{}

	// jobs holds the claims handed over and not yet picked up; it is as
	// large as the most held can reach, so handOver never blocks.
	jobs    chan ims.Message
	workers sync.WaitGroup
}

func newDBHandoff(s *Scheduler, _ Deps) (handoff, error) {
	ahead := newClaimAhead(s.cfg.Concurrency)
	return &dbHandoff{
		s: s, ahead: ahead, freed: make(chan struct{}, 1),
		jobs: make(chan ims.Message, s.cfg.Concurrency+ahead.max),
	}, nil
}

func (h *dbHandoff) lease() time.Duration { return h.s.cfg.Lease }

func (h *dbHandoff) leaderClaims() bool { return false }

// commitsInFlight is one: a worker hands its outcome over and moves on, so
// nothing waits for a commit, and a second one in flight only splits the
// batches (+12% PostgreSQL CPU per message, docs/benchmarks.md).
func (h *dbHandoff) commitsInFlight() int { return 1 }

// start runs the workers. They outlive ctx: Run calls stop only once the
// dispatch loop has returned (nothing more is handed over) and every claim
// handed over is finished or released (Scheduler.wg), so closing jobs then
// finds them idle.
func (h *dbHandoff) start(ctx, deliverCtx context.Context) func() {
	for range h.s.cfg.Concurrency {
		h.workers.Go(func() { h.work(ctx, deliverCtx) })
	}
	return func() { close(h.jobs); h.workers.Wait() }
}

// work delivers claims until jobs is closed. A claim picked up after ctx
// ended is released, not delivered: the drain finishes what has started
// and gives back the rest.
func (h *dbHandoff) work(ctx, deliverCtx context.Context) {
	s := h.s
	for {
		m, ok := h.next()
		if !ok {
			return
		}
		if ctx.Err() != nil {
			s.complete.release(m.Claim())
		} else {
			h.checkWait(m)
			s.work(deliverCtx, m)
		}
		h.finished()
		s.wg.Done()
	}
}

// next waits for a claim. A worker that finds none waiting while a claim is
// in progress is idle for the claim's round trip: the claims ahead were too
// few to cover it.
func (h *dbHandoff) next() (ims.Message, bool) {
	select {
	case m, ok := <-h.jobs:
		return m, ok
	default:
	}
	h.mu.Lock()
	if h.reserved > 0 {
		h.ahead.starved()
	}
	h.mu.Unlock()
	m, ok := <-h.jobs
	return m, ok
}

// checkWait shrinks the claims ahead back to their least when a message
// waited for a worker for more than half of its lease's margin (the lease
// beyond DeliveryTimeout): the webhook has slowed down, and a deeper queue
// would have its messages released for too little lease left (deliver's
// check) instead of delivered.
func (h *dbHandoff) checkWait(m ims.Message) {
	margin := h.s.cfg.Lease - h.s.cfg.DeliveryTimeout
	if m.NextAttemptAt.Sub(h.s.now())-h.s.cfg.DeliveryTimeout >= margin/2 {
		return
	}
	h.mu.Lock()
	h.ahead.waitedTooLong()
	h.mu.Unlock()
}

// limit is how many messages may be held: Concurrency in flight and ahead.n
// claimed ahead. Callers hold mu.
func (h *dbHandoff) limit() int { return h.s.cfg.Concurrency + h.ahead.n }

// reserve blocks until at least one slot is free, then takes up to want. A
// claimed-ahead message waits for the deliveries queued before it; if that
// ate too much of its lease, deliver releases it instead of racing the lease
// (and checkWait makes the queue shallower).
func (h *dbHandoff) reserve(ctx context.Context, want int) int {
	for {
		if n := h.take(want); n > 0 {
			return n
		}
		select {
		case <-h.freed:
		case <-ctx.Done():
			return 0
		}
	}
}

func (h *dbHandoff) take(want int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := min(want, h.limit()-h.held)
	if n <= 0 {
		return 0
	}
	h.held += n
	h.reserved += n
	return n
}

// unreserve gives back room a claim reserved and did not fill.
func (h *dbHandoff) unreserve(n int) {
	if n <= 0 {
		return
	}
	h.mu.Lock()
	h.held -= n
	h.reserved -= n
	h.mu.Unlock()
	signal(h.freed)
}

// finished gives back the slot of a message delivered or released.
func (h *dbHandoff) finished() {
	h.mu.Lock()
	h.held--
	h.mu.Unlock()
	signal(h.freed)
}

// handOver queues the claims for the workers. Each counts in Scheduler.wg
// until it is finished or released, so the shutdown's drain waits for it.
func (h *dbHandoff) handOver(_, _ context.Context, msgs []ims.Message) {
	h.mu.Lock()
	h.reserved -= len(msgs)
	h.mu.Unlock()
	h.s.wg.Add(len(msgs))
	for _, m := range msgs {
		h.jobs <- m
	}
}

// claimAheadPerWorker bounds the claims ahead at this many per worker.
// Measured (docs/benchmarks.md): against one per worker, eight lifted a
// drain to a sink on loopback by a fifth to two fifths on both stores,
// because a claim's round trip then no longer leaves workers idle.
const claimAheadPerWorker = 8

// claimAhead is how many messages database mode claims beyond the workers'
// calls in flight: at least one per worker (min), as many as the workers
// go through during a claim's round trip, at most claimAheadPerWorker per
// worker (max). It grows by one each time a worker goes idle for want of
// a claim (starved), and drops back to min as soon as a message waited too
// long for a worker (waitedTooLong): a fast webhook gets large claims (few
// statements per message), a slow one a short queue whose messages keep
// their lease. No clock, no goroutine: the handoff feeds it what workers see.
type claimAhead struct {
	min, max, n int
}

func newClaimAhead(concurrency int) claimAhead {
	return claimAhead{min: concurrency, max: claimAheadPerWorker * concurrency, n: concurrency}
}

func (a *claimAhead) starved() { a.n = min(a.n+1, a.max) }

func (a *claimAhead) waitedTooLong() { a.n = a.min }
