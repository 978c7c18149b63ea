package stats

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// fakeInstances is an ims.InstanceStore in memory that reports each call
// on calls, so a test waits for a beat instead of sleeping.
type fakeInstances struct {
	mu      sync.Mutex
	rows    map[string]ims.Instance
	err     error
	pruned  []time.Time
	removed []string
	calls   chan string
}

func newFakeInstances() *fakeInstances {
	return &fakeInstances{rows: map[string]ims.Instance{}, calls: make(chan string, 100)}
}

func (f *fakeInstances) Heartbeat(_ context.Context, in ims.Instance) error {
	defer func() { f.calls <- "heartbeat" }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.rows[in.ID] = in
	return nil
}

func (f *fakeInstances) ListInstances(context.Context, time.Time) ([]ims.Instance, error) {
	defer func() { f.calls <- "list" }()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []ims.Instance{}
	for _, id := range []string{"a", "b"} {
		if in, ok := f.rows[id]; ok {
			out = append(out, in)
		}
	}
	return out, nil
}

// ConfirmState is the scheduler's, not the heartbeat's: Fleet never calls it.
func (f *fakeInstances) ConfirmState(context.Context, string, int64) error { return nil }

func (f *fakeInstances) RemoveInstance(_ context.Context, id string) error {
	defer func() { f.calls <- "remove" }()
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.rows, id)
	f.removed = append(f.removed, id)
	return nil
}

func (f *fakeInstances) PruneInstances(_ context.Context, before time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruned = append(f.pruned, before)
	return 0, nil
}

func TestFleet(t *testing.T) {
	t.Parallel()
	self := ims.Instance{ID: "a", StartedAt: time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC), Version: "v1", QueueMode: "db"}

	t.Run("a beat writes this instance, prunes the silent and caches the list", func(t *testing.T) {
		t.Parallel()
		store, c := newFakeInstances(), newClock()
		store.rows["b"] = ims.Instance{ID: "b"}
		leader := true
		f := NewFleet(store, FleetConfig{Self: self, Leader: func() bool { return leader }, Clock: c.Now})
		require.ErrorIs(t, f.Snapshot().Err, ErrNotListed)

		f.Beat(t.Context())
		snap := f.Snapshot()
		require.NoError(t, snap.Err)
		require.Equal(t, c.Now(), snap.RefreshedAt)
		require.Len(t, snap.Instances, 2)
		require.Equal(t, "a", snap.Instances[0].ID)
		require.True(t, snap.Instances[0].Leader, "the leadership as of the beat")
		require.Equal(t, "v1", snap.Instances[0].Version)
		require.Equal(t, []time.Time{c.Now().Add(-ims.InstancePruneAfter)}, store.pruned)
	})
	t.Run("a failed beat keeps the last list and says so", func(t *testing.T) {
		t.Parallel()
		store := newFakeInstances()
		f := NewFleet(store, FleetConfig{Self: self})
		f.Beat(t.Context())
		store.mu.Lock()
		store.err = errors.New("database down")
		store.mu.Unlock()
		f.Beat(t.Context())
		snap := f.Snapshot()
		require.ErrorContains(t, snap.Err, "database down")
		require.Len(t, snap.Instances, 1, "the previous list stays")
	})
	t.Run("run beats every interval and removes this instance when it ends", func(t *testing.T) {
		t.Parallel()
		store := newFakeInstances()
		tick := make(chan time.Time)
		f := NewFleet(store, FleetConfig{Self: self, After: func(time.Duration) <-chan time.Time { return tick }})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.Run(ctx)
		}()
		waitCall(t, store.calls, "list") // the first beat, at once
		tick <- time.Time{}
		waitCall(t, store.calls, "list") // the next one, on the tick
		cancel()
		<-done
		require.Equal(t, []string{"a"}, store.removed, "a clean stop leaves the list")
		require.Empty(t, store.rows)
	})
}

// waitCall waits for the store call named want, skipping others.
func waitCall(t *testing.T, calls <-chan string, want string) {
	t.Helper()
	for {
		select {
		case got := <-calls:
			if got == want {
				return
			}
		case <-t.Context().Done():
			t.Fatalf("no %s call", want)
		}
	}
}
