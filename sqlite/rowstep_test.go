package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// doneCounter counts how often a call asks its context for Done: modernc's
// driver asks once per statement and starts a goroutine to interrupt the
// statement when the channel is not nil.
type doneCounter struct {
	context.Context
	calls atomic.Int64
}

func (c *doneCounter) Done() <-chan struct{} {
	c.calls.Add(1)
	return c.Context.Done()
}

// TestBatchesDoNotWatchTheirContextPerRow: a batch's one-row statements run
// without a cancellable context (see eachRow), so how often a batch asks for
// its context's Done does not grow with the batch. On the code before, every
// row's statements each asked (and each started a goroutine): 3 per created
// message, 2 to 3 per outcome.
func TestBatchesDoNotWatchTheirContextPerRow(t *testing.T) {
	t.Parallel()
	calls := func(t *testing.T, n int) (create, outcomes int64) {
		t.Helper()
		s := open(t, time.Now)
		_, err := s.InitSchedulerState(t.Context(), true, "test")
		require.NoError(t, err)
		nms := make([]ims.NewMessage, n)
		for i := range nms {
			nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("m%d", i), IdempotencyKey: fmt.Sprintf("k%d", i)}
		}
		cctx := &doneCounter{Context: t.Context()}
		_, err = s.CreateMessages(cctx, ims.WithActor("test", nms))
		require.NoError(t, err)
		claimed, err := s.ClaimDue(t.Context(), ims.ClaimParams{Limit: n, Lease: time.Minute, Actor: "test"})
		require.NoError(t, err)
		require.Len(t, claimed, n)
		outs := make([]ims.Outcome, n)
		for i, m := range claimed {
			outs[i] = ims.Outcome{Claim: m.Claim(), At: time.Now(), Decision: ims.Decision{Status: ims.StatusSent, Reason: "delivered"},
				Result: ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "p-" + m.ID}}
		}
		octx := &doneCounter{Context: t.Context()}
		require.NoError(t, s.RecordOutcomes(octx, outs, "test"))
		return cctx.calls.Load(), octx.calls.Load()
	}
	create2, outcomes2 := calls(t, 2)
	create200, outcomes200 := calls(t, 200)
	// A few calls vary from run to run (database/sql's own watch of the
	// transaction's context); the code before added 20 per created message
	// and 8 per outcome (58 against 4,018, and 35 against 1,624).
	const slack = 10
	require.Less(t, create200-create2, int64(slack), "Done calls of a create of 2 messages (%d) and of 200 (%d)", create2, create200)
	require.Less(t, outcomes200-outcomes2, int64(slack), "Done calls of 2 outcomes (%d) and of 200 (%d)", outcomes2, outcomes200)
}

// endsAfter is a context that ends at its n-th Err call: a caller that
// cancels in the middle of a batch, at a point the test chooses.
type endsAfter struct {
	context.Context
	left atomic.Int64
	once sync.Once
	done chan struct{}
}

func newEndsAfter(parent context.Context, n int64) *endsAfter {
	c := &endsAfter{Context: parent, done: make(chan struct{})}
	c.left.Store(n)
	return c
}

func (c *endsAfter) Done() <-chan struct{} { return c.done }

func (c *endsAfter) Err() error {
	if c.left.Add(-1) < 0 {
		c.once.Do(func() { close(c.done) })
		return context.Canceled
	}
	return nil
}

// TestBatchEndsWithItsContext: a batch whose context ends between two rows
// stops there with the context's error and writes none of its rows.
func TestBatchEndsWithItsContext(t *testing.T) {
	t.Parallel()
	for _, rowsBefore := range []int64{0, 1, 50} {
		t.Run(fmt.Sprintf("after %d rows", rowsBefore), func(t *testing.T) {
			t.Parallel()
			s := open(t, time.Now)
			nms := make([]ims.NewMessage, 100)
			for i := range nms {
				nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("m%d", i)}
			}
			ctx := newEndsAfter(t.Context(), rowsBefore)
			_, err := s.CreateMessages(ctx, ims.WithActor("test", nms))
			require.ErrorIs(t, err, context.Canceled)
			page, err := s.ListMessages(t.Context(), ims.MessageFilter{})
			require.NoError(t, err)
			require.Empty(t, page.Messages)
		})
	}
}
