package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// createWith stores one message per NewMessage, each stamped in turn.
func (b *bundle) createWith(t *testing.T, msgs ...ims.NewMessage) []string {
	t.Helper()
	res, err := b.store.CreateMessages(context.Background(), ims.WithActor("test", msgs))
	require.NoError(t, err)
	ids := make([]string, len(res))
	for i, r := range res {
		ids[i] = r.Message.ID
	}
	return ids
}

func TestPacedClaimTakesHighPriorityFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: time.Minute, BatchSize: 1, Concurrency: 1, AutoStart: true})
	var lows []ims.NewMessage
	for range 50 {
		lows = append(lows, ims.NewMessage{PhoneNumber: "+905550000001", Content: "promo", Priority: ims.PriorityLow})
	}
	lowIDs := b.createWith(t, lows...)
	b.clock.Advance(time.Second) // the high one is the newest of all
	high := b.createWith(t, ims.NewMessage{PhoneNumber: "+905550000002", Content: "otp", Priority: ims.PriorityHigh})[0]
	b.run(t)

	b.waitStatus(t, high, ims.StatusSent)
	require.Equal(t, []string{high}, b.hook.callIDs(), "the first claim takes the high message, behind 50 low ones")
	b.clock.Advance(time.Minute)
	b.waitStatus(t, lowIDs[0], ims.StatusSent)
}

func TestRetryAfterTheExpiryExpiresInstead(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 10, AutoStart: true,
		Retry: ims.RetryPolicy{MaxRetries: 5, BaseDelay: time.Minute, MaxDelay: time.Hour}})
	b.hook.answer("+905550000001", ims.DeliveryResult{StatusCode: 503})
	exp := b.clock.Now().Add(30 * time.Second)
	id := b.createWith(t, ims.NewMessage{PhoneNumber: "+905550000001", Content: "otp", ExpiresAt: &exp})[0]
	b.run(t)

	m := b.waitStatus(t, id, ims.StatusExpired)
	require.Equal(t, 1, m.Attempts)
	require.Len(t, b.hook.callIDs(), 1)
	page, err := b.store.ListAudit(context.Background(), ims.AuditFilter{MessageID: id, Type: ims.EventMessageExpired, Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	require.Contains(t, page.Events[0].Details, "expired: "+string(ims.ExpiryRetryAfterExpiry))
}

func TestMessageExpiredWhileWaitingForAWorkerIsNotSent(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Interval: 0, BatchSize: 10, Concurrency: 1, AutoStart: true, ShutdownTimeout: time.Minute})
	b.hook.block = make(chan struct{})
	exp := b.clock.Now().Add(time.Second)
	ids := b.createWith(t, ims.NewMessage{PhoneNumber: "+905550000001", Content: "a", ExpiresAt: &exp},
		ims.NewMessage{PhoneNumber: "+905550000002", Content: "b", ExpiresAt: &exp})
	b.run(t)
	var unblock sync.Once
	release := func() { unblock.Do(func() { close(b.hook.block) }) }
	t.Cleanup(release) // before the scheduler's stop, even when the test fails

	// One call is in flight (started before the expiry); the other message
	// is claimed ahead, waiting for the one worker.
	require.Eventually(t, func() bool {
		return len(b.hook.callIDs()) == 1 && b.count(t, ims.StatusSending) == 2
	}, 10*time.Second, 5*time.Millisecond)
	called := b.hook.callIDs()[0]
	waiting := ids[0]
	if waiting == called {
		waiting = ids[1]
	}
	b.clock.Advance(2 * time.Second) // past the expiry, well inside the lease
	release()

	b.waitStatus(t, called, ims.StatusSent)
	m := b.waitStatus(t, waiting, ims.StatusPending) // released, for the sweeper
	require.Zero(t, m.Attempts, "a released claim does not count")
	require.Equal(t, []string{called}, b.hook.callIDs(), "a message past its expiry is never sent")
	claimed, err := b.store.ClaimDue(context.Background(), ims.ClaimParams{Limit: 10, Lease: time.Minute, Actor: "test"})
	require.NoError(t, err)
	require.Empty(t, claimed, "nor claimed again")
}
