package main

// Many instances, one database: real `ims serve` processes on one PostgreSQL
// schema share the pace, the start/stop state and the work, and survive the
// kill -9 of their leader. Helpers are in fleet_helpers_test.go.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
)

// fleetConfig is the settings of a fleet on a fresh database of b,
// delivering to rcv: stopped on start (the test starts it), a pace of batch
// messages per interval, and as many workers as a batch.
func fleetConfig(t *testing.T, b backend, rcv *receiver, interval time.Duration, batch int) config.Config {
	t.Helper()
	cfg := baseConfig(t, rcv.URL)
	b.configure(t, &cfg)
	cfg.InstanceID = "fleet-" + randomID(t, 3)
	cfg.SchedulerInterval, cfg.SchedulerBatchSize, cfg.WorkerConcurrency = interval, batch, batch
	cfg.SchedulerAutoStart = false
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}

// createSpread creates n messages, each through the next instance in turn:
// any instance takes work for the whole fleet.
func (f *fleet) createSpread(t *testing.T, n int) []ims.Message {
	t.Helper()
	msgs := make([]ims.Message, n)
	for i := range msgs {
		p := f.Procs[i%len(f.Procs)]
		msgs[i] = p.createMessage(t, phoneA, fmt.Sprintf("fleet message %d of %d", i+1, n))
	}
	return msgs
}

func TestE2EFleetLeaderKill9(t *testing.T) {
	t.Parallel()
	const (
		instances = 3
		messages  = 300
		batch     = 10
		interval  = 200 * time.Millisecond
	)
	g := newGate()
	rcv := newReceiver(t, receiverOptions{Webhook: g.handler})
	f := startFleet(t, fleetConfig(t, postgresBackend, rcv, interval, batch), instances)
	msgs := f.createSpread(t, messages)

	leader := f.waitAgreedLeader(t)
	t.Run("health names the leader on every instance", func(t *testing.T) {
		for _, p := range f.Procs {
			h := p.health(t)
			require.NoError(t, h.Err, "a 200")
			require.Contains(t, h.Components["scheduler"].Detail, "leader "+leader.Config.InstanceID)
			require.Contains(t, h.Components["scheduler"].Detail, "instance "+p.Config.InstanceID)
		}
	})

	// Started through a follower: the state is the fleet's, not one process's.
	require.True(t, f.followers(leader)[0].startScheduler(t).Running)
	f.waitLocallyRunning(t, true)
	eventually(t, "a third of the messages delivered", func() bool {
		return rcv.Sink.Stats().UniqueAccepted >= messages/3
	})

	// Crash the leader with deliveries in flight: requests are held at the
	// gate (so the crash cannot fall between a 2xx and its database write)
	// once everything accepted so far is recorded as sent.
	g.hold()
	eventually(t, "the leader's deliveries held in flight, and every accepted one recorded", func() bool {
		return rcv.pending() > 0 && leader.countStatus(t, ims.StatusSent) == int(rcv.Sink.Stats().UniqueAccepted)
	})
	leader.kill9(t)
	g.dropHeld()

	newLeader := f.waitAgreedLeader(t)
	require.NotEqual(t, leader.Config.InstanceID, newLeader.Config.InstanceID)
	survivor := f.followers(newLeader)[0]
	require.Equal(t, newLeader.Config.InstanceID, survivor.controlState(t).Leader,
		"GET /api/control on a survivor names the new leader")

	survivor.waitAllSent(t, messages)
	st := rcv.Sink.Stats()
	t.Logf("webhook: received %d, accepted %d, unique %d, duplicates %d", st.Received, st.Accepted, st.UniqueAccepted, st.Duplicates)
	require.Equal(t, int64(messages), st.UniqueAccepted, "every message delivered")
	require.Zero(t, st.Duplicates, "no message delivered twice")
	for _, m := range msgs {
		require.Equal(t, 1, rcv.acceptedCount(m.ID), "message %s", m.ID)
	}

	ticks := survivor.claimTicks(t)
	requireFleetPace(t, ticks, interval, batch, 10)
	actors := map[string]int{}
	for _, tk := range ticks {
		actors[tk.Actor] += tk.Count
	}
	require.Contains(t, actors, "scheduler:"+leader.Config.InstanceID, "the first leader claimed: %v", actors)
	require.Contains(t, actors, "scheduler:"+newLeader.Config.InstanceID, "the new leader claimed: %v", actors)
	require.Len(t, actors, 2, "only leaders claim: %v", actors)
}

func TestE2EFleetStartStopThroughAnyInstance(t *testing.T) {
	t.Parallel()
	const (
		instances = 3
		messages  = 60
		batch     = 5
		interval  = 100 * time.Millisecond
	)
	rcv := newReceiver(t, receiverOptions{})
	f := startFleet(t, fleetConfig(t, postgresBackend, rcv, interval, batch), instances)
	f.createSpread(t, messages)
	leader := f.waitAgreedLeader(t)
	followers := f.followers(leader)

	require.True(t, followers[0].startScheduler(t).Running)
	eventually(t, "deliveries under way", func() bool { return rcv.Sink.Stats().UniqueAccepted >= batch*2 })

	require.False(t, followers[1].stopScheduler(t).Running)
	for _, p := range f.Procs {
		require.False(t, p.controlState(t).Running, "GET /api/control on %s", p.Config.InstanceID)
	}
	f.waitLocallyRunning(t, false)
	// Settled: no claim is left whose delivery could still start.
	eventually(t, "in-flight deliveries to finish", func() bool {
		return leader.countStatus(t, ims.StatusSending) == 0 && rcv.pending() == 0
	})
	before := rcv.received()
	leader.idle(t, 10*interval)
	require.Equal(t, before, rcv.received(), "nothing delivered while the fleet is stopped")
	require.Positive(t, leader.countStatus(t, ims.StatusPending), "messages were left to send")

	require.True(t, leader.startScheduler(t).Running)
	leader.waitAllSent(t, messages)
	st := rcv.Sink.Stats()
	require.Equal(t, int64(messages), st.UniqueAccepted)
	require.Zero(t, st.Duplicates)
}

// TestE2EFleetRabbitMQ runs a fleet in RabbitMQ mode: the leader paces and
// publishes, and every instance consumes and delivers.
func TestE2EFleetRabbitMQ(t *testing.T) {
	t.Parallel()
	const (
		instances = 3
		messages  = 120
		batch     = 10
		interval  = 100 * time.Millisecond
	)
	rcv := newReceiver(t, receiverOptions{})
	cfg := fleetConfig(t, rabbitmqBackend, rcv, interval, batch)
	cfg.SchedulerAutoStart = true
	f := startFleet(t, cfg, instances)
	f.createSpread(t, messages)
	f.Procs[0].waitAllSent(t, messages)

	st := rcv.Sink.Stats()
	require.Equal(t, int64(messages), st.UniqueAccepted)
	require.Zero(t, st.Duplicates)
	requireFleetPace(t, f.Procs[0].claimTicks(t), interval, batch, 10)
	deliverers := map[string]bool{}
	for _, e := range f.Procs[0].audit(t, client.AuditFilter{Type: ims.EventMessageSent}) {
		deliverers[e.Actor] = true
	}
	require.GreaterOrEqual(t, len(deliverers), 2, "more than one instance delivered: %v", deliverers)
	for _, p := range f.Procs {
		require.True(t, strings.HasSuffix(p.health(t).Components["scheduler"].Detail, "mode rabbitmq"))
	}
}
