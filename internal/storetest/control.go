package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func testSchedulerState(t *testing.T, open Opener) {
	t.Run("init stores once, set overrides", func(t *testing.T) {
		t.Parallel()
		f := setupBare(t, open)
		st, err := f.s.SchedulerState(f.ctx)
		require.NoError(t, err)
		require.Equal(t, ims.SchedulerState{}, st, "no state stored yet")

		st, err = f.s.InitSchedulerState(f.ctx, true, "boot:1")
		require.NoError(t, err)
		want := ims.SchedulerState{Running: true, UpdatedAt: f.now(), UpdatedBy: "boot:1"}
		requireState(t, want, st)

		f.clock.Advance(time.Minute)
		st, err = f.s.InitSchedulerState(f.ctx, false, "boot:2")
		require.NoError(t, err)
		requireState(t, want, st, "init must not overwrite a stored state")

		st, err = f.s.SetSchedulerRunning(f.ctx, false, "api:req-3")
		require.NoError(t, err)
		want = ims.SchedulerState{Running: false, UpdatedAt: f.now(), UpdatedBy: "api:req-3"}
		requireState(t, want, st)

		f.clock.Advance(time.Minute)
		st, err = f.s.InitSchedulerState(f.ctx, true, "boot:3")
		require.NoError(t, err)
		requireState(t, want, st, "a stop survives a restart")
		st, err = f.s.SchedulerState(f.ctx)
		require.NoError(t, err)
		requireState(t, want, st)

		st, err = f.s.SetSchedulerRunning(f.ctx, true, "api:req-4")
		require.NoError(t, err)
		requireState(t, ims.SchedulerState{Running: true, UpdatedAt: f.now(), UpdatedBy: "api:req-4"}, st)

		evs := f.events(t, ims.AuditFilter{})
		require.Len(t, evs, 2)
		require.Equal(t, ims.EventSchedulerStarted, evs[0].Type)
		require.Equal(t, "api:req-4", evs[0].Actor)
		require.Equal(t, ims.EventSchedulerStopped, evs[1].Type)
		require.Equal(t, "api:req-3", evs[1].Actor)
	})
	t.Run("set without init", func(t *testing.T) {
		t.Parallel()
		f := setupBare(t, open)
		st, err := f.s.SetSchedulerRunning(f.ctx, true, "api:req-5")
		require.NoError(t, err)
		requireState(t, ims.SchedulerState{Running: true, UpdatedAt: f.now(), UpdatedBy: "api:req-5"}, st)
		st, err = f.s.SchedulerState(f.ctx)
		require.NoError(t, err)
		requireState(t, ims.SchedulerState{Running: true, UpdatedAt: f.now(), UpdatedBy: "api:req-5"}, st)
	})
}

func testSchedulerStateVersion(t *testing.T, open Opener) {
	f := setupBare(t, open)
	version := func(st ims.SchedulerState, err error) int64 {
		t.Helper()
		require.NoError(t, err)
		return st.Version
	}
	st, err := f.s.SchedulerState(f.ctx)
	require.Equal(t, int64(0), version(st, err), "nothing stored: version 0")
	require.Equal(t, int64(1), version(f.s.InitSchedulerState(f.ctx, true, "boot:1")), "the first state is version 1")
	require.Equal(t, int64(1), version(f.s.InitSchedulerState(f.ctx, false, "boot:2")), "init changes nothing")
	// Every change bumps it, also one that stores the same running value,
	// and also within one clock tick: the version, not the time, orders.
	require.Equal(t, int64(2), version(f.s.SetSchedulerRunning(f.ctx, false, "api:1")))
	require.Equal(t, int64(3), version(f.s.SetSchedulerRunning(f.ctx, false, "api:2")))
	require.Equal(t, int64(4), version(f.s.SetSchedulerRunning(f.ctx, true, "api:3")))
	st, err = f.s.SchedulerState(f.ctx)
	require.Equal(t, int64(4), version(st, err), "the stored version is the one Set returned")
	require.True(t, st.Running)
	require.Equal(t, int64(4), version(f.s.InitSchedulerState(f.ctx, false, "boot:3")))

	b := setupBare(t, open)
	st, err = b.s.SetSchedulerRunning(b.ctx, false, "api:4")
	require.Equal(t, int64(1), version(st, err), "set without init starts at 1")
}

// testClaimWhileStopped: ClaimDue checks the stored state itself, so no
// instance claims once a stop has committed, whatever its local view.
func testClaimWhileStopped(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		stop func(f *fixture) error
	}{
		{"stopped", func(f *fixture) error {
			_, err := f.s.SetSchedulerRunning(f.ctx, false, "api:stop")
			return err
		}},
		{"no state stored", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setupBare(t, open)
			if tc.stop != nil {
				_, err := f.s.InitSchedulerState(f.ctx, true, "boot")
				require.NoError(t, err)
				require.NoError(t, tc.stop(f))
			}
			m := f.create(t, f.newMsg())
			require.Empty(t, f.claim(t, 10), "nothing is claimed while the scheduler is not running")
			got := f.get(t, m.ID)
			require.Equal(t, ims.StatusPending, got.Status)
			require.Equal(t, 0, got.Attempts)
			require.Empty(t, f.events(t, ims.AuditFilter{Type: ims.EventMessageClaimed}))

			_, err := f.s.SetSchedulerRunning(f.ctx, true, "api:start")
			require.NoError(t, err)
			require.Equal(t, []string{m.ID}, ids(f.claim(t, 10)), "a start makes it claimable")
		})
	}
}

// testRenewWhileStopped: a consumer's renewal or check is its go-ahead to
// deliver, so like a claim it is refused once a stop has committed.
func testRenewWhileStopped(t *testing.T, open Opener) {
	f := setup(t, open)
	m := f.claimOne(t)
	h := f.claimOne(t).HandOver()
	_, err := f.s.SetSchedulerRunning(f.ctx, false, "api:stop")
	require.NoError(t, err)
	f.clock.Advance(time.Second)

	got, err := f.s.CheckClaims(f.ctx, []ims.Claim{m.Claim(), h})
	require.NoError(t, err)
	require.Empty(t, got, "no claim checks out while the scheduler is stopped")
	got, err = f.s.RenewClaims(f.ctx, []ims.Claim{m.Claim(), h}, lease)
	require.NoError(t, err)
	require.Empty(t, got, "nothing is renewed while the scheduler is stopped")
	kept := f.get(t, m.ID)
	require.Equal(t, ims.StatusSending, kept.Status)
	requireTime(t, m.NextAttemptAt, kept.NextAttemptAt, "the lease is left as it was")

	_, err = f.s.SetSchedulerRunning(f.ctx, true, "api:start")
	require.NoError(t, err)
	got, err = f.s.CheckClaims(f.ctx, []ims.Claim{m.Claim(), h})
	require.NoError(t, err)
	require.Equal(t, []string{m.ID, h.MessageID}, ids(got), "after a start the same claims check out")
	got, err = f.s.RenewClaims(f.ctx, []ims.Claim{m.Claim(), h}, lease)
	require.NoError(t, err)
	require.Equal(t, []string{m.ID, h.MessageID}, ids(got), "after a start the same claims renew")
}

func requireState(t *testing.T, want, got ims.SchedulerState, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, want.Running, got.Running, msgAndArgs...)
	require.Equal(t, want.UpdatedBy, got.UpdatedBy, msgAndArgs...)
	requireTime(t, want.UpdatedAt, got.UpdatedAt, msgAndArgs...)
}

func testLeadership(t *testing.T, open Opener) {
	f := setup(t, open)
	const ttl = 10 * time.Second
	acquire := func(instance string) ims.Leadership {
		t.Helper()
		l, err := f.s.AcquireLeadership(f.ctx, instance, ttl)
		require.NoError(t, err)
		require.Equal(t, time.UTC, l.ExpiresAt.Location())
		return l
	}
	elected := func() int {
		t.Helper()
		return len(f.events(t, ims.AuditFilter{Type: ims.EventLeaderElected}))
	}

	l := acquire("a")
	require.Equal(t, "a", l.Holder, "a free lease is taken")
	requireTime(t, f.now().Add(ttl), l.ExpiresAt)
	require.Equal(t, 1, elected())
	deadline := l.ExpiresAt

	f.clock.Advance(ttl / 2)
	l = acquire("b")
	require.Equal(t, "a", l.Holder, "a valid lease is refused to another instance")
	requireTime(t, deadline, l.ExpiresAt)

	l = acquire("a")
	require.Equal(t, "a", l.Holder, "the holder renews")
	requireTime(t, f.now().Add(ttl), l.ExpiresAt)
	require.Equal(t, 1, elected(), "a renewal elects no one")

	f.clock.Advance(ttl)
	l = acquire("b")
	require.Equal(t, "b", l.Holder, "an expired lease is taken over")
	requireTime(t, f.now().Add(ttl), l.ExpiresAt)
	require.Equal(t, 2, elected())

	require.NoError(t, f.s.ResignLeadership(f.ctx, "a"), "resigning a lease not held is a no-op")
	require.Equal(t, "b", acquire("a").Holder)

	require.NoError(t, f.s.ResignLeadership(f.ctx, "b"))
	l = acquire("a")
	require.Equal(t, "a", l.Holder, "a resigned lease is free at once")
	require.Equal(t, 3, elected())
}

func testPing(t *testing.T, open Opener) {
	f := setup(t, open)
	require.NoError(t, f.s.Ping(f.ctx))
}
