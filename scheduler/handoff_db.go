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
	// slots bounds messages claimed and not yet finished: Concurrency in
	// flight plus as many claimed ahead, so the next claim's round trip
	// overlaps deliveries instead of leaving workers idle while it runs.
	slots chan struct{}
	// jobs holds the claims handed over and not yet picked up; it is as
	// large as slots, so handOver never blocks.
	jobs    chan ims.Message
	workers sync.WaitGroup
}

func newDBHandoff(s *Scheduler, _ Deps) (handoff, error) {
	return &dbHandoff{
		s: s, slots: make(chan struct{}, 2*s.cfg.Concurrency), jobs: make(chan ims.Message, 2*s.cfg.Concurrency),
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
	for m := range h.jobs {
		if ctx.Err() != nil {
			s.complete.release(m.Claim())
		} else {
			s.work(deliverCtx, m)
		}
		h.unreserve(1)
		s.wg.Done()
	}
}

// reserve blocks until at least one slot is free, then takes up to want. A
// claimed-ahead message waits for at most one delivery per worker before its
// own starts; if that ate too much of its lease, deliver releases it instead
// of racing the lease.
func (h *dbHandoff) reserve(ctx context.Context, want int) int {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < want {
		select {
		case h.slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func (h *dbHandoff) unreserve(n int) {
	for range n {
		<-h.slots
	}
}

// handOver queues the claims for the workers. Each counts in Scheduler.wg
// until it is finished or released, so the shutdown's drain waits for it.
func (h *dbHandoff) handOver(_, _ context.Context, msgs []ims.Message) {
	h.s.wg.Add(len(msgs))
	for _, m := range msgs {
		h.jobs <- m
	}
}
