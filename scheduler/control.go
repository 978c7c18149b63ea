package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// StartFleet stores the fleet-wide state as running. Every instance picks
// it up within PollInterval; this one at once.
func (s *Scheduler) StartFleet(ctx context.Context, actor string) (ims.SchedulerStatus, error) {
	st, err := s.set(ctx, true, actor)
	if err != nil {
		return ims.SchedulerStatus{}, err
	}
	return s.status(st), nil
}

// StopFleet stores the fleet-wide state as stopped and returns once no
// instance can start a webhook call: this one's calls past their last check
// are on the wire (applyState waits for them, stopGate), and every other
// live instance has confirmed the stop (done the same) or has gone
// confirmWait without reading the state, after which it refuses calls on
// its own. The status says which instances confirmed and which timed out.
// Claims and renewals check the stored state, so they stop at the commit.
// Deliveries already in flight finish.
func (s *Scheduler) StopFleet(ctx context.Context, actor string) (ims.SchedulerStatus, error) {
	st, err := s.set(ctx, false, actor)
	if err != nil {
		return ims.SchedulerStatus{}, err
	}
	committed := s.now() // the stop committed before set returned
	fleet, err := s.awaitFleet(ctx, st.Version, committed)
	if err != nil {
		return ims.SchedulerStatus{}, err
	}
	out := s.status(st)
	out.Fleet = &fleet
	return out, nil
}

// set stores the state, applies and confirms it here.
func (s *Scheduler) set(ctx context.Context, running bool, actor string) (ims.SchedulerState, error) {
	began := s.now()
	st, err := s.store.SetSchedulerRunning(ctx, running, actor)
	if err != nil {
		return ims.SchedulerState{}, fmt.Errorf("set scheduler state: %w", err)
	}
	s.noteStateRead(began)
	s.applyState(st)
	s.confirmState(ctx, true)
	s.log.Info("scheduler state changed", "running", running, "actor", actor, "version", st.Version)
	return st, nil
}

// awaitFleet waits until every other live instance (ims.InstanceStale says
// which are) has confirmed version, or confirmWait has passed since
// committed. A failed list is retried until then: the bound holds anyway.
func (s *Scheduler) awaitFleet(ctx context.Context, version int64, committed time.Time) (ims.FleetConfirmation, error) {
	watcher, _ := s.store.(ims.StateWatcher)
	deadline := committed.Add(s.confirmWait())
	out := ims.FleetConfirmation{Version: version, Confirmed: []string{s.cfg.Instance}, TimedOut: []string{}}
	for {
		changed := stateChanged(watcher)
		list, err := s.store.ListInstances(ctx, s.now().Add(-ims.InstanceStaleAfter))
		if err != nil {
			s.logTransient("list instances for the stop", err)
		} else {
			out = confirmation(s.cfg.Instance, version, list, s.now())
			if len(out.TimedOut) == 0 {
				return out, nil
			}
		}
		now := s.now()
		if !now.Before(deadline) {
			s.log.Warn("stop not confirmed by every instance; they refuse calls on their own by now",
				"version", version, "unconfirmed", out.TimedOut)
			return out, nil
		}
		select {
		case <-ctx.Done():
			return ims.FleetConfirmation{}, fmt.Errorf("wait for the fleet to confirm the stop: %w", ctx.Err())
		case <-changed:
		case <-s.after(min(confirmPoll, deadline.Sub(now))):
		}
	}
}

// confirmPoll is how often a stop re-reads the confirmations when no
// notification comes (a store without StateWatcher, or one lost).
const confirmPoll = 50 * time.Millisecond

// confirmation sorts the live instances of list by whether they confirmed
// version; self did when it applied the stop, row or not.
func confirmation(self string, version int64, list []ims.Instance, now time.Time) ims.FleetConfirmation {
	out := ims.FleetConfirmation{Version: version, Confirmed: []string{}, TimedOut: []string{}}
	seenSelf := false
	for _, in := range list {
		switch {
		case ims.InstanceStale(in.LastSeen, now):
		case in.ID == self:
			seenSelf = true
			out.Confirmed = append(out.Confirmed, in.ID)
		case in.StateVersion >= version:
			out.Confirmed = append(out.Confirmed, in.ID)
		default:
			out.TimedOut = append(out.TimedOut, in.ID)
		}
	}
	if !seenSelf {
		out.Confirmed = append(out.Confirmed, self)
	}
	return out
}

// stateChanged is w's next change signal, or nil (never) without one.
func stateChanged(w ims.StateWatcher) <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.StateChanged()
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
	if !st.Running && s.supersedes(st) {
		s.closeGate()
		defer s.openGate()
	}
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

// supersedes is st.Supersedes of the applied state, a first look so that
// re-reading a stop already applied costs no gate work.
func (s *Scheduler) supersedes(st ims.SchedulerState) bool {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return st.Supersedes(s.state)
}

// closeGate makes a stop wait for the calls past their last check until
// their requests are written (stopGate). Tests learn when it has to wait.
func (s *Scheduler) closeGate() {
	if !s.gate.calls.TryLock() {
		s.sig.closingGate()
		s.gate.calls.Lock()
	}
}

func (s *Scheduler) openGate() {
	s.gate.calls.Unlock()
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
// A store that signals state changes (ims.StateWatcher) wakes it at once,
// so a stop is applied and confirmed in milliseconds; the poll is the
// fallback, and renews the lease.
func (s *Scheduler) watchState(ctx context.Context) {
	every := s.statePoll()
	watcher, _ := s.store.(ims.StateWatcher)
	var tick <-chan time.Time
	for {
		if tick == nil {
			tick = s.after(every)
		}
		changed := stateChanged(watcher)
		select {
		case <-ctx.Done():
			return
		case <-changed:
			s.watchRead(ctx, false)
		case <-tick:
			tick = nil
			s.watchRead(ctx, true)
			s.refreshLeadership(ctx)
		}
	}
}

// watchRead is one watchState read and confirmation; always re-confirms an
// unchanged version too (see confirmState).
func (s *Scheduler) watchRead(ctx context.Context, always bool) {
	if err := s.refreshState(ctx); err != nil {
		s.logTransient("read scheduler state", err)
		return
	}
	s.confirmState(ctx, always)
}

// refreshState reads the stored state and applies it, noting the read for
// stateFresh.
func (s *Scheduler) refreshState(ctx context.Context) error {
	began := s.now()
	st, err := s.store.SchedulerState(ctx)
	if err != nil {
		return fmt.Errorf("read scheduler state: %w", err)
	}
	s.noteStateRead(began)
	s.applyState(st)
	return nil
}

// confirmState writes the applied version to this instance's row, after
// applyState returned (so this instance's calls past their check are on the
// wire), when it is newer than the last one written, or always: the row may
// not have existed at the last write (the first heartbeat inserts it with
// version 0), and a confirmation that changes nothing writes nothing.
func (s *Scheduler) confirmState(ctx context.Context, always bool) {
	s.stateMu.Lock()
	v := s.state.Version
	s.stateMu.Unlock()
	if v == 0 || (!always && v <= s.gate.confirmed.Load()) {
		return
	}
	if err := s.store.ConfirmState(ctx, s.cfg.Instance, v); err != nil {
		s.logTransient("confirm scheduler state", err)
		return
	}
	for {
		cur := s.gate.confirmed.Load()
		if v <= cur || s.gate.confirmed.CompareAndSwap(cur, v) {
			return
		}
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
