package scheduler

import (
	"context"
	"time"

	"github.com/insiderone/ims"
)

// mayDispatch says whether this instance claims work now. Pacing is
// fleet-wide, so only the leader claims in paced mode; in RabbitMQ mode the
// leader publishes and every instance consumes. In continuous database mode
// there is nothing to pace and every instance claims.
func (s *Scheduler) mayDispatch() bool {
	if !s.running.Load() {
		return false
	}
	if s.cfg.Mode == ModeRabbitMQ || s.cfg.Interval > 0 {
		return s.isLeader()
	}
	return true
}

func (s *Scheduler) dispatchLoop(ctx, deliverCtx context.Context) {
	if s.cfg.Interval > 0 {
		s.pacedLoop(ctx, deliverCtx)
		return
	}
	s.continuousLoop(ctx, deliverCtx)
}

// pacedLoop dispatches up to BatchSize messages every Interval. Deadlines
// advance by whole intervals from the previous one, so the pace does not
// drift with the time each batch takes; a start within the current interval
// (stop/start, leader change on this instance) does not dispatch early.
func (s *Scheduler) pacedLoop(ctx, deliverCtx context.Context) {
	var next time.Time
	for {
		wait := s.cfg.PollInterval
		if s.mayDispatch() {
			now := s.now()
			if !now.Before(next) {
				s.dispatch(ctx, deliverCtx, s.cfg.BatchSize)
				if next.IsZero() || now.Sub(next) >= s.cfg.Interval {
					next = now // idle or far behind: restart the grid from now
				}
				next = next.Add(s.cfg.Interval)
			}
			wait = next.Sub(s.now())
		}
		select {
		case <-ctx.Done():
			return
		case <-s.after(wait):
		case <-s.changed:
		}
	}
}

// continuousLoop claims as fast as the workers free up, and sleeps only when
// nothing is due: until new work is signalled (LISTEN/NOTIFY or in-process),
// the state changes, or PollInterval passes (messages scheduled for later
// become due without a signal).
func (s *Scheduler) continuousLoop(ctx, deliverCtx context.Context) {
	var wakeups <-chan struct{}
	if w, ok := s.store.(ims.Waker); ok {
		wakeups = w.Wakeups()
	}
	for {
		if s.mayDispatch() {
			claimed, drained := s.dispatch(ctx, deliverCtx, s.cfg.BatchSize)
			if !drained {
				if claimed == 0 { // queue full: give the consumers a moment
					select {
					case <-ctx.Done():
						return
					case <-time.After(depthCacheFor):
					}
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wakeups:
		case <-s.changed:
		case <-s.after(s.cfg.PollInterval):
		}
	}
}

// dispatch claims up to budget messages, in claims no larger than the free
// delivery capacity, and hands them over. drained is true when a claim found
// fewer messages due than it asked for, or when dispatching must pause.
func (s *Scheduler) dispatch(ctx, deliverCtx context.Context, budget int) (claimed int, drained bool) {
	for claimed < budget {
		n := s.capacity(ctx, budget-claimed)
		if n == 0 {
			// In RabbitMQ mode 0 means the broker queue is full: more is
			// due, it just has to wait for the consumers.
			return claimed, s.cfg.Mode != ModeRabbitMQ || ctx.Err() != nil
		}
		msgs, err := s.claim(ctx, n)
		s.returnCapacity(n - len(msgs))
		if err != nil {
			s.logTransient("claim due messages", err)
			return claimed, true
		}
		s.handOver(ctx, deliverCtx, msgs)
		claimed += len(msgs)
		if len(msgs) < n {
			return claimed, true
		}
	}
	return claimed, false
}

func (s *Scheduler) claim(ctx context.Context, n int) ([]ims.Message, error) {
	lease := s.cfg.Lease
	if s.cfg.Mode == ModeRabbitMQ {
		lease = s.cfg.HandoverLease
	}
	msgs, err := s.store.ClaimDue(ctx, ims.ClaimParams{Limit: n, Lease: lease, Actor: s.actor()})
	if err == nil && len(msgs) > 0 {
		s.obs.Claimed(len(msgs))
	}
	return msgs, err
}

// capacity reserves room for up to want messages: free slots in database
// mode (blocking until at least one is free), room in the broker queue in
// RabbitMQ mode. 0 means: do not claim now. A claimed-ahead message waits
// for at most one delivery per worker before its own starts; if that ate
// too much of its lease, deliver releases it instead of racing the lease.
func (s *Scheduler) capacity(ctx context.Context, want int) int {
	if s.cfg.Mode == ModeRabbitMQ {
		return s.queueRoom(ctx, want)
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < want {
		select {
		case s.slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func (s *Scheduler) returnCapacity(n int) {
	if s.cfg.Mode == ModeRabbitMQ {
		return
	}
	for range n {
		<-s.slots
	}
}

// QueueDepth is implemented by queues that can tell how many entries wait.
type QueueDepth interface {
	Depth(ctx context.Context) (int, error)
}

// queueRoom is how many more entries the broker queue may take. Reading the
// depth costs broker round trips, so it is read at most every
// depthCacheFor and the entries published since are counted locally.
func (s *Scheduler) queueRoom(ctx context.Context, want int) int {
	if ctx.Err() != nil {
		return 0
	}
	qd, ok := s.queue.(QueueDepth)
	if !ok {
		return want
	}
	now := time.Now()
	if now.Sub(s.depthAt) >= depthCacheFor {
		depth, err := qd.Depth(ctx)
		if err != nil {
			s.logTransient("read queue depth", err)
			return 0
		}
		s.depth, s.depthAt = depth, now
	}
	return max(0, min(want, s.cfg.MaxQueued-s.depth))
}

// depthCacheFor bounds how stale the leader's view of the queue depth gets.
const depthCacheFor = 50 * time.Millisecond

// handOver starts a delivery per message (database mode) or publishes the
// claims (RabbitMQ mode; claims the broker did not confirm are released).
func (s *Scheduler) handOver(ctx, deliverCtx context.Context, msgs []ims.Message) {
	if len(msgs) == 0 {
		return
	}
	if s.cfg.Mode == ModeDB {
		for _, m := range msgs {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.returnCapacity(1)
				select {
				case s.workers <- struct{}{}:
				case <-ctx.Done(): // shutting down before it started: give it back
					s.complete.release(m.Claim())
					return
				}
				defer func() { <-s.workers }()
				s.work(deliverCtx, m)
			}()
		}
		return
	}
	claims := make([]ims.Claim, len(msgs))
	for i, m := range msgs {
		claims[i] = m.HandOver()
	}
	s.depth += len(claims) // counted until the next depth reading
	if err := s.queue.Publish(ctx, claims); err != nil {
		s.log.Warn("publish to queue failed; releasing the claims so they are dispatched again", "err", err, "count", len(claims))
		for _, m := range msgs {
			s.complete.release(m.Claim())
		}
	}
}
