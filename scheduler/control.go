package scheduler

import (
	"context"
	"errors"
	"fmt"

	"github.com/insiderone/ims"
)

// StartFleet stores the fleet-wide state as running. Every instance picks
// it up within PollInterval; this one at once.
func (s *Scheduler) StartFleet(ctx context.Context, actor string) (ims.SchedulerStatus, error) {
	return s.set(ctx, true, actor)
}

// StopFleet stores the fleet-wide state as stopped: once it returns, no instance
// claims anything, nor renews a queue entry (both statements check the
// stored state), and this instance starts no webhook call (workers check
// the local state right before each call, and release what they hold
// instead). Other instances release what they hold once they see the stop,
// within PollInterval. Deliveries already in flight finish.
func (s *Scheduler) StopFleet(ctx context.Context, actor string) (ims.SchedulerStatus, error) {
	return s.set(ctx, false, actor)
}

func (s *Scheduler) set(ctx context.Context, running bool, actor string) (ims.SchedulerStatus, error) {
	st, err := s.store.SetSchedulerRunning(ctx, running, actor)
	if err != nil {
		return ims.SchedulerStatus{}, fmt.Errorf("set scheduler state: %w", err)
	}
	s.applyState(st)
	s.log.Info("scheduler state changed", "running", running, "actor", actor)
	return s.status(st), nil
}

// Status reads the stored state, so it is true for the whole fleet.
func (s *Scheduler) Status(ctx context.Context) (ims.SchedulerStatus, error) {
	st, err := s.store.SchedulerState(ctx)
	if err != nil {
		return ims.SchedulerStatus{}, fmt.Errorf("read scheduler state: %w", err)
	}
	return s.status(st), nil
}

// LocalStatus reports this instance's view without touching the database,
// for health checks and metrics.
func (s *Scheduler) LocalStatus() ims.SchedulerStatus {
	s.stateMu.Lock()
	st := s.state
	s.stateMu.Unlock()
	return s.status(st)
}

func (s *Scheduler) status(st ims.SchedulerState) ims.SchedulerStatus {
	l := s.currentLeader()
	return ims.SchedulerStatus{
		Running: st.Running, Interval: s.cfg.Interval, BatchSize: s.cfg.BatchSize, QueueMode: s.cfg.Mode,
		Instance: s.cfg.Instance, Leader: l.Holder, IsLeader: l.Holder == s.cfg.Instance,
		UpdatedAt: st.UpdatedAt, UpdatedBy: st.UpdatedBy, ProviderStatus: s.prov.status(),
	}
}

// applyState makes st the state this instance acts on, unless it is not
// newer than the one applied: reads and changes race (watchState's read can
// return after a StopFleet on this instance applied its newer state), and only
// the version orders them.
func (s *Scheduler) applyState(st ims.SchedulerState) {
	s.stateMu.Lock()
	if !st.Supersedes(s.state) {
		s.stateMu.Unlock()
		return
	}
	s.state = st
	changed := s.running.Swap(st.Running) != st.Running
	s.stateMu.Unlock()
	if changed {
		signal(s.changed)
	}
}

// currentLeader is the last known leadership, or none once its lease has run
// out (a leader that cannot renew must stop pacing before another starts).
func (s *Scheduler) currentLeader() ims.Leadership {
	l := *s.leader.Load()
	if !l.ExpiresAt.IsZero() && !s.now().Before(l.ExpiresAt) {
		return ims.Leadership{}
	}
	return l
}

func (s *Scheduler) isLeader() bool { return s.currentLeader().Holder == s.cfg.Instance }

// watchState keeps this instance in step with the fleet: the stored
// running state (changed through any instance's API) and the leader lease.
func (s *Scheduler) watchState(ctx context.Context) {
	every := min(s.cfg.PollInterval, s.cfg.LeaderTTL/3)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.after(every):
		}
		if st, err := s.store.SchedulerState(ctx); err != nil {
			s.logTransient("read scheduler state", err)
		} else {
			s.applyState(st)
		}
		s.refreshLeadership(ctx)
	}
}

func (s *Scheduler) refreshLeadership(ctx context.Context) {
	l, err := s.store.AcquireLeadership(ctx, s.cfg.Instance, s.cfg.LeaderTTL)
	if err != nil {
		s.logTransient("renew leadership", err)
		return
	}
	prev := s.leader.Swap(&l)
	if prev.Holder != l.Holder {
		s.log.Info("leader changed", "leader", l.Holder, "this_instance", s.cfg.Instance)
		signal(s.changed)
	}
}

// logTransient logs a failure of a loop that will simply try again.
func (s *Scheduler) logTransient(what string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log.Warn(what+" failed; will retry", "err", err)
}

var _ ims.SchedulerControl = (*Scheduler)(nil)
