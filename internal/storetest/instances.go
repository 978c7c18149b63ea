package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func testInstances(t *testing.T, open Opener) {
	instance := func(id string, started time.Time) ims.Instance {
		return ims.Instance{ID: id, StartedAt: started, Version: "v1.2.3", QueueMode: ims.QueueModeDB}
	}
	listIDs := func(t *testing.T, f *fixture, since time.Time) []string {
		t.Helper()
		got, err := f.s.ListInstances(f.ctx, since)
		require.NoError(t, err)
		out := make([]string, len(got))
		for i, in := range got {
			out[i] = in.ID
		}
		return out
	}

	t.Run("heartbeat stores and replaces the row", func(t *testing.T) {
		t.Parallel()
		f := setupBare(t, open)
		started := f.now().Add(-time.Minute)
		require.NoError(t, f.s.Heartbeat(f.ctx, instance("b", started)))
		f.clock.Advance(time.Second)
		a := instance("a", started)
		a.LastSeen = started.Add(-time.Hour) // ignored: the store's now counts
		require.NoError(t, f.s.Heartbeat(f.ctx, a))

		got, err := f.s.ListInstances(f.ctx, time.Time{})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "a", got[0].ID, "ordered by id")
		requireTime(t, started, got[0].StartedAt)
		requireTime(t, f.now(), got[0].LastSeen)
		require.Equal(t, time.UTC, got[0].LastSeen.Location())
		require.Equal(t, "v1.2.3", got[0].Version)
		require.Equal(t, ims.QueueModeDB, got[0].QueueMode)
		require.False(t, got[0].Leader)
		requireTime(t, f.now().Add(-time.Second), got[1].LastSeen)

		f.clock.Advance(5 * time.Second)
		a.Leader, a.QueueMode = true, ims.QueueModeRabbitMQ
		require.NoError(t, f.s.Heartbeat(f.ctx, a))
		got, err = f.s.ListInstances(f.ctx, time.Time{})
		require.NoError(t, err)
		require.Len(t, got, 2, "a second heartbeat replaces the row")
		require.True(t, got[0].Leader)
		require.Equal(t, ims.QueueModeRabbitMQ, got[0].QueueMode)
		requireTime(t, f.now(), got[0].LastSeen)
	})
	t.Run("confirmed state version only goes up and survives heartbeats", func(t *testing.T) {
		t.Parallel()
		f := setupBare(t, open)
		started := f.now()
		for _, id := range []string{"a", "b"} {
			require.NoError(t, f.s.Heartbeat(f.ctx, instance(id, started)))
		}
		versions := func(t *testing.T) map[string]int64 {
			t.Helper()
			out := map[string]int64{}
			for _, in := range mustList(t, f) {
				out[in.ID] = in.StateVersion
			}
			return out
		}
		require.Equal(t, map[string]int64{"a": 0, "b": 0}, versions(t), "nothing confirmed yet")

		steps := []struct {
			name    string
			id      string
			version int64
			want    map[string]int64
		}{
			{"a confirms 3", "a", 3, map[string]int64{"a": 3, "b": 0}},
			{"an older confirmation does not lower it", "a", 2, map[string]int64{"a": 3, "b": 0}},
			{"b confirms 4", "b", 4, map[string]int64{"a": 3, "b": 4}},
			{"an instance without a row is no error and no row", "gone", 9, map[string]int64{"a": 3, "b": 4}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				require.NoError(t, f.s.ConfirmState(f.ctx, st.id, st.version))
				require.Equal(t, st.want, versions(t))
			})
		}
		f.clock.Advance(time.Second)
		require.NoError(t, f.s.Heartbeat(f.ctx, instance("a", started)))
		require.Equal(t, int64(3), versions(t)["a"], "a heartbeat keeps the confirmed version")
	})
	t.Run("state changes and confirmations are signalled", func(t *testing.T) {
		t.Parallel()
		f := setupBare(t, open)
		w, ok := f.s.(ims.StateWatcher)
		require.True(t, ok, "both stores tell of state changes")
		require.NoError(t, f.s.Heartbeat(f.ctx, instance("a", f.now())))

		changed := w.StateChanged()
		st, err := f.s.SetSchedulerRunning(f.ctx, false, "test")
		require.NoError(t, err)
		awaitClosed(t, changed, "a state change")

		changed = w.StateChanged()
		require.NoError(t, f.s.ConfirmState(f.ctx, "a", st.Version))
		awaitClosed(t, changed, "a confirmation")
	})
	t.Run("list since, remove and prune", func(t *testing.T) {
		t.Parallel()
		f := setupBare(t, open)
		require.Empty(t, listIDs(t, f, time.Time{}))
		require.NotNil(t, mustList(t, f), "an empty fleet is [] rather than nil")
		old := f.now()
		require.NoError(t, f.s.Heartbeat(f.ctx, instance("old", old)))
		f.clock.Advance(time.Minute)
		for _, id := range []string{"x", "y"} {
			require.NoError(t, f.s.Heartbeat(f.ctx, instance(id, old)))
		}

		tests := []struct {
			name  string
			since time.Time
			want  []string
		}{
			{"everything", time.Time{}, []string{"old", "x", "y"}},
			{"seen since is inclusive", old, []string{"old", "x", "y"}},
			{"old left out", old.Add(time.Microsecond), []string{"x", "y"}},
			{"nothing that recent", f.now().Add(time.Second), []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				require.Equal(t, tt.want, listIDs(t, f, tt.since))
			})
		}

		require.NoError(t, f.s.RemoveInstance(f.ctx, "x"))
		require.NoError(t, f.s.RemoveInstance(f.ctx, "x"), "removing a missing row is no error")
		require.Equal(t, []string{"old", "y"}, listIDs(t, f, time.Time{}))

		n, err := f.s.PruneInstances(f.ctx, old)
		require.NoError(t, err)
		require.Zero(t, n, "prune deletes only rows seen before the cut")
		n, err = f.s.PruneInstances(f.ctx, old.Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, []string{"y"}, listIDs(t, f, time.Time{}))
	})
}

func mustList(t *testing.T, f *fixture) []ims.Instance {
	t.Helper()
	got, err := f.s.ListInstances(f.ctx, time.Time{})
	require.NoError(t, err)
	return got
}

// awaitClosed waits for a store's signal, which PostgreSQL delivers through
// its listener connection, a moment after the commit.
func awaitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was not signalled", what)
	}
}
