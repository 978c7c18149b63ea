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
