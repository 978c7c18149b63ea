package expiry_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/expiry"
	"github.com/insiderone/ims/internal/storetest"
	"github.com/insiderone/ims/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type bundle struct {
	store   *sqlite.Store
	clock   *storetest.Clock
	leader  atomic.Bool
	running atomic.Bool
	circuit ims.Circuit
	counted map[ims.ExpiryReason]int
	ticks   chan time.Time
	svc     *expiry.Service
}

func (b *bundle) Expired(why ims.ExpiryReason, n int) { b.counted[why] += n }

func setup(t *testing.T) *bundle {
	t.Helper()
	store, err := sqlite.Open(t.Context(), t.TempDir()+"/ims.db")
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	b := &bundle{store: store, clock: storetest.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)),
		counted: map[ims.ExpiryReason]int{}, ticks: make(chan time.Time)}
	store.Now = b.clock.Now
	require.NoError(t, store.Migrate(t.Context()))
	b.leader.Store(true)
	b.svc, err = expiry.New(expiry.Config{BatchSize: 2}, expiry.Deps{
		Store: store, IsLeader: b.leader.Load, Running: b.running.Load,
		Circuit: func() ims.Circuit { return b.circuit }, Observer: b, Clock: b.clock.Now,
		After: func(time.Duration) <-chan time.Time { return b.ticks },
	})
	require.NoError(t, err)
	return b
}

// create stores n messages that expire ttl from now.
func (b *bundle) create(t *testing.T, n int, ttl time.Duration) []string {
	t.Helper()
	var in []ims.NewMessage
	for range n {
		at := b.clock.Now().Add(ttl)
		in = append(in, ims.NewMessage{PhoneNumber: "+905551234567", Content: "code", ExpiresAt: &at, Actor: "test"})
	}
	res, err := b.store.CreateMessages(t.Context(), in)
	require.NoError(t, err)
	ids := make([]string, n)
	for i, r := range res {
		ids[i] = r.Message.ID
	}
	return ids
}

func (b *bundle) requireExpired(t *testing.T, id string, why ims.ExpiryReason) {
	t.Helper()
	m, err := b.store.GetMessage(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, ims.StatusExpired, m.Status)
	page, err := b.store.ListAudit(t.Context(), ims.AuditFilter{MessageID: id, Type: ims.EventMessageExpired, Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	require.Equal(t, "expired: "+string(why), page.Events[0].Details)
	require.Equal(t, "expiry", page.Events[0].Actor)
}

func TestSweepMovesExpiredMessagesInBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.create(t, 5, time.Second)
	keep := b.create(t, 1, time.Hour)

	n, err := b.svc.RunOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "nothing has expired yet")

	b.clock.Advance(time.Second)
	n, err = b.svc.RunOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 5, n, "batches of 2 until none is left")
	for _, id := range ids {
		b.requireExpired(t, id, ims.ExpiryStopped)
	}
	m, err := b.store.GetMessage(t.Context(), keep[0])
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, m.Status)
	require.Equal(t, map[ims.ExpiryReason]int{ims.ExpiryStopped: 5}, b.counted)
}

func TestSweepReasonFollowsTheFleet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Equal(t, ims.ExpiryStopped, b.svc.Reason())
	b.running.Store(true)
	require.Equal(t, ims.ExpiryBacklog, b.svc.Reason())
	b.circuit = ims.Circuit{State: ims.CircuitOpen}
	require.Equal(t, ims.ExpiryCircuitOpen, b.svc.Reason())

	id := b.create(t, 1, time.Second)[0]
	b.clock.Advance(time.Second)
	_, err := b.svc.RunOnce(t.Context())
	require.NoError(t, err)
	b.requireExpired(t, id, ims.ExpiryCircuitOpen)
}

func TestRunSweepsOnlyWhileLeading(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.create(t, 1, time.Second)
	b.clock.Advance(time.Second)
	b.leader.Store(false)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { b.svc.Run(ctx); close(done) }()
	b.ticks <- b.clock.Now() // a sweep time passes as a follower
	b.ticks <- b.clock.Now() // and the loop is back waiting: the first went by
	m, err := b.store.GetMessage(t.Context(), ids[0])
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, m.Status, "a follower does not sweep")

	b.leader.Store(true)
	b.ticks <- b.clock.Now()
	b.ticks <- b.clock.Now() // the sweep of the previous tick is done
	b.requireExpired(t, ids[0], ims.ExpiryStopped)
	cancel()
	<-done
}

func TestNewRequiresItsDependencies(t *testing.T) {
	t.Parallel()
	_, err := expiry.New(expiry.Config{}, expiry.Deps{})
	require.Error(t, err)
	_, err = expiry.New(expiry.Config{Every: -1}, expiry.Deps{})
	require.Error(t, err)
}
