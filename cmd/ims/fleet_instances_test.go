package main

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims/client"
)

// TestE2EFleetInstancesInConsole: three `ims serve` processes on one
// database each list all three in the console's snapshot, the leader
// marked; one stopped cleanly leaves the list at once, and one killed with
// SIGKILL (which removes nothing) is marked stale once it misses its
// heartbeats.
func TestE2EFleetInstancesInConsole(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, receiverOptions{})
	f := startFleet(t, fleetConfig(t, postgresBackend, rcv, time.Second, 1), 3)
	leader := f.waitAgreedLeader(t)
	ids := []string{f.Procs[0].Config.InstanceID, f.Procs[1].Config.InstanceID, f.Procs[2].Config.InstanceID}
	listed := func(p *imsProcess) []client.ConsoleInstance {
		t.Helper()
		c, err := p.API.Console(t.Context())
		require.NoError(t, err, "GET /api/console")
		return c.Instances
	}
	idsOf := func(list []client.ConsoleInstance) []string {
		out := make([]string, len(list))
		for i, in := range list {
			out[i] = in.ID
		}
		return out
	}

	for _, p := range f.Procs {
		eventually(t, p.Config.InstanceID+" to list the three instances, the leader marked", func() bool {
			list := listed(p)
			return slices.Equal(idsOf(list), ids) && slices.ContainsFunc(list, func(in client.ConsoleInstance) bool {
				return in.ID == leader.Config.InstanceID && in.Leader
			})
		})
		for _, in := range listed(p) {
			require.False(t, in.Stale, "%s beats", in.ID)
			require.Equal(t, in.ID == p.Config.InstanceID, in.Self)
			require.Equal(t, "db", in.QueueMode)
			require.Equal(t, version, in.Version)
			require.False(t, in.StartedAt.IsZero())
		}
	}

	killed, stopped, other := f.Procs[2], f.Procs[1], f.Procs[0]
	stopped.signal(t, syscall.SIGTERM)
	require.Zero(t, stopped.wait(t), "a clean shutdown")
	eventually(t, "the stopped instance to leave the list", func() bool {
		return slices.Equal(idsOf(listed(other)), []string{other.Config.InstanceID, killed.Config.InstanceID})
	})

	killed.kill9(t)
	eventually(t, "the killed instance marked stale", func() bool {
		list := listed(other)
		return len(list) == 2 && list[1].ID == killed.Config.InstanceID && list[1].Stale && !list[0].Stale
	})
}
