package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func testProviderState(t *testing.T, open Opener) {
	t.Run("round trip, version, audit in the same write", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		st, err := f.s.ProviderState(f.ctx)
		require.NoError(t, err)
		require.Equal(t, ims.ProviderState{}, st, "nothing stored: a closed circuit, a full bucket")
		require.Equal(t, ims.CircuitClosed, st.Circuit.Position())

		opened := ims.Circuit{State: ims.CircuitOpen, Failures: 20, OpenedAt: f.now(), NextProbeAt: f.now().Add(5 * time.Second),
			ProbeDelay: 5 * time.Second, LastError: "HTTP 401"}
		st, err = f.s.UpdateProviderState(f.ctx, func(cur ims.ProviderState) (ims.ProviderState, []ims.AuditEvent) {
			cur.Circuit = opened
			cur.Rate = ims.RateState{Tokens: 1.5, Rate: 10, UpdatedAt: f.now(), PausedUntil: f.now().Add(time.Second)}
			return cur, []ims.AuditEvent{{Type: ims.EventCircuitOpened, Actor: actor, Details: "HTTP 401", CreatedAt: f.now()}}
		})
		require.NoError(t, err)
		require.Equal(t, int64(1), st.Version)

		got, err := f.s.ProviderState(f.ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Version)
		require.Equal(t, ims.CircuitOpen, got.Circuit.State)
		require.Equal(t, "HTTP 401", got.Circuit.LastError)
		require.True(t, got.Circuit.NextProbeAt.Equal(opened.NextProbeAt))
		require.Equal(t, 1.5, got.Rate.Tokens)
		require.True(t, got.Rate.Paused(f.now()))

		evs := f.events(t, ims.AuditFilter{Type: ims.EventCircuitOpened})
		require.Len(t, evs, 1)
		require.Equal(t, "HTTP 401", evs[0].Details)

		same, err := f.s.UpdateProviderState(f.ctx, func(cur ims.ProviderState) (ims.ProviderState, []ims.AuditEvent) {
			return cur, []ims.AuditEvent{{Type: ims.EventCircuitClosed, Actor: actor}}
		})
		require.NoError(t, err)
		require.Equal(t, int64(1), same.Version, "an unchanged state is not written")
		require.Empty(t, f.events(t, ims.AuditFilter{Type: ims.EventCircuitClosed}), "nor are its events")
	})
	t.Run("concurrent updates apply one after the other", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		const writers, each = 4, 10
		var wg sync.WaitGroup
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					_, err := f.s.UpdateProviderState(f.ctx, func(cur ims.ProviderState) (ims.ProviderState, []ims.AuditEvent) {
						cur.Circuit.Failures++
						return cur, nil
					})
					require.NoError(t, err)
				}
			}()
		}
		wg.Wait()
		st, err := f.s.ProviderState(f.ctx)
		require.NoError(t, err)
		require.Equal(t, writers*each, st.Circuit.Failures, "no increment lost: the read and the write are one step")
		require.Equal(t, int64(writers*each), st.Version)
	})
	t.Run("held outcomes are counted, replay resets them", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		m := f.claimOne(t)
		f.record(t, ims.Outcome{Claim: m.Claim(), Result: ims.DeliveryResult{StatusCode: 503}, At: f.now(), Held: true,
			Decision: ims.Decision{Status: ims.StatusPending, NextAttemptAt: f.now(), Reason: "held for the provider"}})
		got := f.get(t, m.ID)
		require.Equal(t, 1, got.Attempts, "attempts stays the fencing token")
		require.Equal(t, 1, got.Held)
		claimed := f.claim(t, 1)
		require.Len(t, claimed, 1)
		m = claimed[0]
		require.Equal(t, 1, m.Held, "a claim returns the held count")
		f.record(t, ims.Outcome{Claim: m.Claim(), Result: ims.DeliveryResult{StatusCode: 400}, At: f.now(),
			Decision: ims.Decision{Status: ims.StatusDead, Reason: "permanent"}})
		got = f.get(t, m.ID)
		require.Equal(t, 2, got.Attempts)
		require.Equal(t, 1, got.Held)
		replayed, err := f.s.ReplayMessage(f.ctx, m.ID, actor)
		require.NoError(t, err)
		require.Equal(t, 0, replayed.Held)
	})
}
