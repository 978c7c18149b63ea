package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/internal/sink"
)

// Issue 7 defect 6 from outside: two processes on PostgreSQL in database
// mode, both delivering with claims ahead of their workers, stopped through
// one of them. After the stop has answered, the receiver sees no request
// start, from either; both confirmed the stop before it answered.
func TestE2EFleetStopAnswersAfterTheLastCallStarted(t *testing.T) {
	t.Parallel()
	const (
		instances = 2
		messages  = 1000
		batch     = 50 // claimed per statement, far more than the workers take at once
		workers   = 4
	)
	rcv := newReceiver(t, receiverOptions{Sink: sink.Config{Latency: 20 * time.Millisecond}})
	cfg := fleetConfig(t, postgresBackend, rcv, 0, batch)
	cfg.WorkerConcurrency = workers
	f := startFleet(t, cfg, instances)
	stopper := f.Procs[0]
	in := make([]client.NewMessage, messages)
	for i := range in {
		in[i] = client.NewMessage{PhoneNumber: phoneA, Content: fmt.Sprintf("stop under load %d", i)}
	}
	_, err := stopper.API.CreateBatch(t.Context(), in, "")
	require.NoError(t, err)

	require.True(t, stopper.startScheduler(t).Running)
	eventually(t, "both instances delivering", func() bool {
		return rcv.received() >= 4*workers*instances && claimedByEvery(t, stopper, f)
	})
	st := stopper.stopScheduler(t)
	answered := time.Now()

	require.False(t, st.Running)
	require.NotNil(t, st.Fleet, "a stop's answer says who confirmed it")
	var ids []string
	for _, p := range f.Procs {
		ids = append(ids, p.Config.InstanceID)
	}
	require.Equal(t, ids, st.Fleet.Confirmed, "every live instance confirmed before the stop answered")
	require.Empty(t, st.Fleet.TimedOut)

	eventually(t, "in-flight deliveries to finish", func() bool {
		return stopper.countStatus(t, ims.StatusSending) == 0 && rcv.pending() == 0
	})
	require.Positive(t, stopper.countStatus(t, ims.StatusPending), "the stop came while work was left")
	for _, r := range rcv.all() {
		require.False(t, r.ReceivedAt.After(answered), "request %d (%s) reached the receiver %s after the stop answered",
			r.Seq, r.Key(), r.ReceivedAt.Sub(answered))
	}
}

// claimedByEvery reports whether every process of f has claimed something,
// from the audit trail's actors.
func claimedByEvery(t *testing.T, a *imsProcess, f *fleet) bool {
	t.Helper()
	ticks := a.claimTicks(t)
	for _, p := range f.Procs {
		if !slices.ContainsFunc(ticks, func(c claimTick) bool { return c.Actor == "scheduler:"+p.Config.InstanceID }) {
			return false
		}
	}
	return true
}
