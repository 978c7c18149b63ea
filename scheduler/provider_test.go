package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func phones(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+9055500%05d", i)
	}
	return out
}

// settle lets the loops react to the clock without moving it: it waits for
// the dispatch loop's ticks until none comes for a while.
func settle(t *testing.T, b *bundle) { t.Helper(); ticksUntilQuiet(t, b) }

// advanceUntilAll moves the fake clock a second at a time until every
// message is in want, the way advanceUntil does for one.
func (b *bundle) advanceUntilAll(t *testing.T, ids []string, want ims.Status) {
	t.Helper()
	for _, id := range ids {
		b.advanceUntil(t, id, want)
	}
}

func (b *bundle) auditTypes(t *testing.T, typ string) []ims.AuditEvent {
	t.Helper()
	page, err := b.store.ListAudit(context.Background(), ims.AuditFilter{Type: typ, Limit: 100})
	require.NoError(t, err)
	return page.Events
}

// An outage: the provider answers 503 to everything. After Threshold
// failures the circuit opens for the whole fleet: no call until the probe,
// no message dead even with no retries allowed, every attempt refunded;
// the probe's success closes it and everything is delivered.
func TestCircuitHoldsMessagesThroughAnOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 5, AutoStart: true,
		Breaker: ims.BreakerPolicy{Threshold: 3, FirstProbe: 5 * time.Second, Ramp: 2 * time.Second},
		Retry:   ims.RetryPolicy{MaxRetries: 0, BaseDelay: time.Second, MaxDelay: time.Minute}})
	b.hook.answerAll(ims.DeliveryResult{StatusCode: 503, Response: "down"})
	ids := b.create(t, phones(20)...)
	b.run(t)

	require.Eventually(t, func() bool { return b.sched.LocalStatus().Circuit == ims.CircuitOpen }, 10*time.Second, 5*time.Millisecond)
	settle(t, b)
	require.Len(t, b.hook.callIDs(), 3, "the circuit opens after Threshold failures; claimed-ahead work is released, not sent")
	st := b.sched.LocalStatus()
	require.Equal(t, "HTTP 503", st.LastError)
	require.NotNil(t, st.CircuitSince)

	mark := b.hook.mark()
	for range 4 { // before the first probe
		b.clock.Advance(time.Second)
		settle(t, b)
	}
	require.Empty(t, b.hook.callsAfter(mark), "no call while the circuit is open")
	require.Zero(t, b.count(t, ims.StatusDead), "the provider's outage dead-letters nothing")
	for _, id := range ids {
		m, err := b.store.GetMessage(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, ims.StatusPending, m.Status)
		require.Equal(t, m.Attempts, m.Held, "every attempt of the outage is refunded")
	}

	// A failed probe: still open, one call, no more until the doubled delay.
	b.clock.Advance(time.Second)
	require.Eventually(t, func() bool { return len(b.hook.callsAfter(mark)) == 1 }, 10*time.Second, 5*time.Millisecond)
	settle(t, b)
	require.Len(t, b.hook.callsAfter(mark), 1, "one probe, nothing else")
	require.Eventually(t, func() bool { return b.sched.LocalStatus().Circuit == ims.CircuitOpen }, 10*time.Second, 5*time.Millisecond)

	b.hook.answerAll(ims.DeliveryResult{StatusCode: 202})
	b.advanceUntilAll(t, ids, ims.StatusSent)
	require.Equal(t, ims.CircuitClosed, b.sched.LocalStatus().Circuit)
	require.Zero(t, b.count(t, ims.StatusDead))

	opened := b.auditTypes(t, ims.EventCircuitOpened)
	require.Len(t, opened, 1, "a failed probe is no new outage")
	require.Contains(t, opened[0].Details, "HTTP 503")
	require.Len(t, b.auditTypes(t, ims.EventCircuitClosed), 1)
}

// A key the provider refuses (401) is IMS's problem, not the messages':
// the circuit opens, nothing is dead-lettered, and once the key is fixed
// everything goes.
func TestCircuitOpensOnARefusedKey(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 5, AutoStart: true,
		Breaker: ims.BreakerPolicy{Threshold: 2, FirstProbe: time.Second, Ramp: time.Second},
		Retry:   ims.RetryPolicy{MaxRetries: 0, BaseDelay: time.Second, MaxDelay: time.Minute}})
	b.hook.answerAll(ims.DeliveryResult{StatusCode: 401})
	ids := b.create(t, phones(6)...)
	b.run(t)
	require.Eventually(t, func() bool { return b.sched.LocalStatus().Circuit == ims.CircuitOpen }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, "HTTP 401", b.sched.LocalStatus().LastError)
	for range 3 {
		b.clock.Advance(time.Second)
		settle(t, b)
	}
	require.Zero(t, b.count(t, ims.StatusDead))
	b.hook.answerAll(ims.DeliveryResult{StatusCode: 202})
	b.advanceUntilAll(t, ids, ims.StatusSent)
}

// A 429 pauses the whole fleet for its Retry-After, and spends no retry
// even with MaxRetries 0 — also with a limit high enough for the instance
// to hold tokens taken ahead (reserveAhead): a pause drops them.
func TestThrottlePausesTheFleet(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		rate ims.RatePolicy
	}{
		{"no rate limit", ims.RatePolicy{}},
		{"a limit far above the load", ims.RatePolicy{Limit: 4000, Burst: 400}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{Interval: 0, BatchSize: 5, AutoStart: true, Rate: tt.rate,
				Retry: ims.RetryPolicy{MaxRetries: 0, BaseDelay: time.Second, MaxDelay: time.Minute}})
			b.hook.answerAll(ims.DeliveryResult{StatusCode: 429, RetryAfter: 5 * time.Second})
			ids := b.create(t, phones(5)...)
			b.run(t)
			require.Eventually(t, func() bool { return b.sched.LocalStatus().PausedUntil != nil }, 10*time.Second, 5*time.Millisecond)
			settle(t, b)
			require.Len(t, b.hook.callIDs(), 1, "the first 429 stops the fleet; claimed-ahead work goes back")
			paused := b.sched.LocalStatus().PausedUntil
			require.True(t, paused.Equal(b.clock.Now().Add(5*time.Second)), "paused for the Retry-After: %s", paused)

			b.hook.answerAll(ims.DeliveryResult{StatusCode: 202})
			mark := b.hook.mark()
			for range 4 {
				b.clock.Advance(time.Second)
				settle(t, b)
			}
			require.Empty(t, b.hook.callsAfter(mark), "a fleet-wide silence for the Retry-After")
			b.advanceUntilAll(t, ids, ims.StatusSent)
			require.Zero(t, b.count(t, ims.StatusDead), "a 429 never counts toward WEBHOOK_MAX_RETRIES")
			require.Len(t, b.auditTypes(t, ims.EventThrottled), 1)
		})
	}
}

// The rate limit holds: with the clock stopped no more than the burst
// goes, and after each second no more than burst + rate·elapsed.
func TestRateLimitHoldsOverAWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 10, Concurrency: 4, AutoStart: true,
		Rate: ims.RatePolicy{Limit: 2, Burst: 3}})
	b.create(t, phones(30)...)
	b.run(t)
	require.Eventually(t, func() bool { return len(b.hook.callIDs()) >= 3 }, 10*time.Second, 5*time.Millisecond)
	settle(t, b)
	require.Len(t, b.hook.callIDs(), 3, "the burst, then nothing while no time passes")
	st := b.sched.LocalStatus()
	require.Equal(t, 2.0, st.RateLimit)
	require.Equal(t, 2.0, st.EffectiveRate)
	for k := 1; k <= 5; k++ {
		b.clock.Advance(time.Second)
		want := 3 + 2*k
		require.Eventually(t, func() bool { return len(b.hook.callIDs()) >= want }, 10*time.Second, 5*time.Millisecond)
		settle(t, b)
		require.Len(t, b.hook.callIDs(), want, "burst + rate·elapsed after %ds", k)
	}
}

// Paced mode: the rate limit and the batch per interval compose; the
// stricter wins.
func TestRateLimitComposesWithPacing(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: time.Second, BatchSize: 5, AutoStart: true, Rate: ims.RatePolicy{Limit: 1, Burst: 1}})
	b.create(t, phones(10)...)
	b.run(t)
	require.Eventually(t, func() bool { return len(b.hook.callIDs()) >= 1 }, 10*time.Second, 5*time.Millisecond)
	for k := 1; k <= 3; k++ {
		b.clock.Advance(time.Second)
		settle(t, b)
		require.LessOrEqual(t, len(b.hook.callIDs()), 1+k, "1/s is stricter than 5 per second")
	}
}

// Paced mode: the pace holds through an outage too — the probe is the
// batch of the first tick after it is due — and nothing is dead.
func TestCircuitPacedProbesAtTheTick(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: time.Minute, BatchSize: 2, AutoStart: true,
		Breaker: ims.BreakerPolicy{Threshold: 2, FirstProbe: 5 * time.Second, Ramp: time.Nanosecond},
		Retry:   ims.RetryPolicy{MaxRetries: 0, BaseDelay: time.Second, MaxDelay: time.Minute}})
	b.hook.answerAll(ims.DeliveryResult{Err: "dial tcp 10.0.0.1:443: connect: connection refused"})
	ids := b.create(t, phones(3)...)
	b.run(t)
	require.Eventually(t, func() bool { return b.sched.LocalStatus().Circuit == ims.CircuitOpen }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, "connection refused", b.sched.LocalStatus().LastError)
	b.hook.answerAll(ims.DeliveryResult{StatusCode: 202})
	mark := b.hook.mark()
	for range 30 {
		b.clock.Advance(time.Second)
		settle(t, b)
	}
	require.Empty(t, b.hook.callsAfter(mark), "no call before the next tick: the pace holds")
	b.advanceUntilAll(t, ids, ims.StatusSent)
	require.Len(t, b.hook.callsAfter(mark), 3, "the probe, then the rest: no stampede, no repeat")
	require.Zero(t, b.count(t, ims.StatusDead))
}

// The healthy path writes nothing: with no limit and every call a success,
// the stored provider state is never touched.
func TestHealthyDeliveryWritesNoProviderState(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 10, Concurrency: 4, AutoStart: true})
	ids := b.create(t, phones(50)...)
	b.run(t)
	for _, id := range ids {
		b.waitStatus(t, id, ims.StatusSent)
	}
	st, err := b.store.ProviderState(context.Background())
	require.NoError(t, err)
	require.Zero(t, st.Version, "no write on the closed, unlimited path")
}

// A limit far above what a claim asks for is not a store transaction per
// claim: the instance takes reserveAhead of the rate at once and admits the
// next claims from it. The limit still holds: with the clock standing still
// the burst is all that goes, however the tokens were taken.
func TestHighRateLimitTakesTokensAhead(t *testing.T) {
	t.Parallel()
	const limit, burst = 4000.0, 400.0 // reserveAhead of 4000/s: 200 tokens at once
	b := setup(t, Config{Interval: 0, BatchSize: 10, Concurrency: 4, AutoStart: true,
		Rate: ims.RatePolicy{Limit: limit, Burst: burst}})
	b.create(t, phones(1000)...)
	b.run(t)
	require.Eventually(t, func() bool { return len(b.hook.callIDs()) >= int(burst) }, 20*time.Second, 5*time.Millisecond)
	settle(t, b)
	calls := len(b.hook.callIDs())
	require.Equal(t, int(burst), calls, "the burst, then nothing while no time passes")
	st, err := b.store.ProviderState(context.Background())
	require.NoError(t, err)
	// Claims are at most 10 (BatchSize), so at least 40 of them admitted the
	// burst, each with a store write before (119 seen). Taking 200 tokens at
	// a time, two writes take it all; a claim asking for more than the
	// reservoir's rest writes once more (giving it back with the next take).
	require.LessOrEqual(t, st.Version, int64(10), "store writes for %d calls in claims of at most 10", calls)

	b.clock.Advance(time.Second)
	require.Eventually(t, func() bool { return len(b.hook.callIDs()) >= 2*int(burst) }, 20*time.Second, 5*time.Millisecond)
	settle(t, b)
	require.Equal(t, 2*int(burst), len(b.hook.callIDs()), "a second refills the bucket to its burst, no more")
}
