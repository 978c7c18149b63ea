package scheduler

import (
	"context"
	"time"

	"github.com/insiderone/ims"
)

// dbHandoff is database mode: this instance claims and delivers what it
// claimed, in a bounded pool.
type dbHandoff struct {
	s *Scheduler
	// slots bounds messages claimed and not yet finished: Concurrency in
	// flight plus as many claimed ahead, so the next claim's round trip
	// overlaps deliveries instead of leaving workers idle while it runs.
	slots chan struct{}
}

func newDBHandoff(s *Scheduler, _ Deps) (handoff, error) {
	return &dbHandoff{s: s, slots: make(chan struct{}, 2*s.cfg.Concurrency)}, nil
}

func (h *dbHandoff) lease() time.Duration { return h.s.cfg.Lease }

func (h *dbHandoff) leaderClaims() bool { return false }

func (h *dbHandoff) start(context.Context, context.Context) func() { return func() {} }

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

// handOver starts a delivery per message; each waits for a worker.
func (h *dbHandoff) handOver(ctx, deliverCtx context.Context, msgs []ims.Message) {
	s := h.s
	for _, m := range msgs {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer h.unreserve(1)
			if !s.acquireWorker(ctx) { // shutting down before it started: give it back
				s.complete.release(m.Claim())
				return
			}
			defer s.releaseWorker()
			s.work(deliverCtx, m)
		}()
	}
}
