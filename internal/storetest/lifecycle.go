package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// testLifecycleAgreement holds the cases where the two stores once applied
// the lifecycle differently; each rule now lives in the domain (lifecycle.go).
func testLifecycleAgreement(t *testing.T, open Opener) {
	t.Run("bulk replay without a limit replays DefaultReplayLimit", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		dead := f.deadN(t, ims.DefaultReplayLimit+1)

		n, err := f.s.ReplayDeadLetters(f.ctx, actor, 0)
		require.NoError(t, err)
		require.Equal(t, ims.DefaultReplayLimit, n, "0 is the API's default, neither nothing nor everything")
		require.Equal(t, ims.StatusPending, f.get(t, dead[0].ID).Status, "oldest first")
		require.Equal(t, ims.StatusDead, f.get(t, dead[len(dead)-1].ID).Status)

		n, err = f.s.ReplayDeadLetters(f.ctx, actor, -1)
		require.NoError(t, err)
		require.Equal(t, 1, n, "a negative limit is the default too")
		require.Equal(t, ims.StatusPending, f.get(t, dead[len(dead)-1].ID).Status)
	})
	t.Run("unknown status filter is invalid", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		f.create(t, f.newMsg())
		for _, status := range []ims.Status{"bogus", "PENDING", "EXPIRED"} {
			_, err := f.s.ListMessages(f.ctx, ims.MessageFilter{Status: status})
			requireCode(t, ims.EINVALID, err)
		}
	})
	t.Run("attempt latency keeps every nanosecond", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.claimOne(t)
		o := outcome(m, ims.StatusSent, f.clock.Now())
		o.Result.Latency = 1234567891 * time.Nanosecond // not a whole number of microseconds
		f.record(t, o)

		attempts, err := f.s.ListAttempts(f.ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 1)
		require.Equal(t, o.Result.Latency, attempts[0].Latency)
	})
	for _, status := range []ims.Status{ims.StatusCanceled, ims.StatusSending, "", "bogus"} {
		t.Run(fmt.Sprintf("decision %q is not an outcome", status), func(t *testing.T) {
			t.Parallel()
			f := setup(t, open)
			good, bad := f.claimOne(t), f.claimOne(t)
			o := outcome(bad, ims.StatusDead, f.clock.Now())
			o.Decision.Status = status
			err := f.s.RecordOutcomes(f.ctx, []ims.Outcome{outcome(good, ims.StatusSent, f.clock.Now()), o}, actor)
			requireCode(t, ims.EINVALID, err)

			// All or nothing: the valid outcome of the batch is not written either.
			for _, m := range []ims.Message{good, bad} {
				require.Equal(t, m, f.get(t, m.ID))
				attempts, err := f.s.ListAttempts(f.ctx, m.ID)
				require.NoError(t, err)
				require.Empty(t, attempts)
			}
			for _, typ := range []string{ims.EventMessageSent, ims.EventMessageDead, ims.EventMessageRetryScheduled} {
				require.Empty(t, f.events(t, ims.AuditFilter{Type: typ}))
			}
		})
	}
	t.Run("every event a transition writes", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		sendAt := f.clock.Now().Add(-time.Hour)
		nm := f.newMsg()
		nm.SendAt = &sendAt
		m := f.create(t, nm)
		c := f.claim(t, 1)
		require.Len(t, c, 1)
		require.NoError(t, f.s.ReleaseClaims(f.ctx, []ims.Claim{c[0].Claim()}))

		evs := f.events(t, ims.AuditFilter{MessageID: m.ID})
		require.Len(t, evs, 3)
		// Newest first.
		for i, want := range []struct {
			tr      ims.Transition
			details string
		}{
			{ims.TransitionRelease, ims.TransitionRelease.DetailsFor(1)},
			{ims.TransitionClaim, ims.TransitionClaim.DetailsFor(1)},
			{ims.TransitionCreate, ims.CreatedDetails(m.SendAt)},
		} {
			require.Equal(t, want.tr.Event, evs[i].Type, want.tr.Name)
			require.Equal(t, want.details, evs[i].Details, want.tr.Name)
		}
		require.Equal(t, "attempt 1 released", evs[0].Details, "the texts clients already read")
		require.Equal(t, ims.TransitionRelease.To, f.get(t, m.ID).Status)
	})
}

// deadN returns n new dead messages, oldest first, made in three batched
// store calls (create, claim, record).
func (f *fixture) deadN(t *testing.T, n int) []ims.Message {
	t.Helper()
	msgs := f.createN(t, n)
	claimed := f.claim(t, n)
	require.Equal(t, ids(msgs), ids(claimed))
	outs := make([]ims.Outcome, n)
	for i, m := range claimed {
		outs[i] = outcome(m, ims.StatusDead, f.clock.Now())
	}
	f.record(t, outs...)
	return msgs
}
