// Package coalesce turns many concurrent single-message creates into one
// multi-row insert. Under load each API request otherwise pays a transaction
// commit of its own; coalesced, 64 concurrent requests share one. When there
// is no concurrency a create goes straight through, so it adds no latency.
package coalesce

import (
	"context"
	"sync"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/batch"
)

// Creator is an ims.MessageStore whose CreateMessages coalesces concurrent
// single-message calls. Every other method is the wrapped store's.
type Creator struct {
	ims.MessageStore
	in chan request
	// mu orders sends against the end of Run: a send happens under the read
	// lock and only while !closed, so once Run has set closed under the write
	// lock every queued request is in the channel, and Run answers it.
	mu       sync.RWMutex
	closed   bool
	maxBatch int
	timeout  time.Duration
}

type request struct {
	msg   ims.NewMessage
	reply chan reply
}

type reply struct {
	res ims.CreateResult
	err error
}

// New wraps store. Run must be running for coalescing to happen; without it
// (or after it returns) calls go straight to the store.
func New(store ims.MessageStore, maxBatch int) *Creator {
	return &Creator{
		MessageStore: store, in: make(chan request, 4*maxBatch),
		maxBatch: max(maxBatch, 1), timeout: 30 * time.Second,
	}
}

// CreateMessages implements ims.MessageStore. Batches (bulk creates) go
// straight through; a single message joins whatever is being written next.
func (c *Creator) CreateMessages(ctx context.Context, msgs []ims.NewMessage) ([]ims.CreateResult, error) {
	if len(msgs) != 1 {
		return c.MessageStore.CreateMessages(ctx, msgs)
	}
	req := request{msg: msgs[0], reply: make(chan reply, 1)}
	if !c.enqueue(req) {
		return c.MessageStore.CreateMessages(ctx, msgs)
	}
	select {
	case r := <-req.reply:
		if r.err != nil {
			return nil, r.err
		}
		return []ims.CreateResult{r.res}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// enqueue queues req for the next batch, or says no: after Run has ended,
// or when the queue is full (the store is behind; waiting in line would only
// add latency, so the request is written on its own).
func (c *Creator) enqueue(req request) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return false
	}
	select {
	case c.in <- req:
		return true
	default:
		return false
	}
}

// Run writes coalesced batches until ctx ends, then the requests already
// queued (the drain rule of internal/batch; write answers every request, so
// a drain never stops early). A request queued while the drain ran is
// answered too: after closing, Run writes whatever is left in the queue.
func (c *Creator) Run(ctx context.Context) {
	flush := func(b []request) error {
		c.write(b)
		return nil
	}
	batch.Run(ctx, c.in, batch.Options{Max: c.maxBatch}, flush)
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	for len(c.in) > 0 {
		b := make([]request, 0, min(len(c.in), c.maxBatch))
		for len(b) < c.maxBatch && len(c.in) > 0 {
			b = append(b, <-c.in)
		}
		_ = flush(b)
	}
}

// write inserts the batch in one call. If the batch as a whole fails (one
// request's idempotency conflict fails all of them), each request is retried
// alone, so only the one at fault gets an error.
func (c *Creator) write(batch []request) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	msgs := make([]ims.NewMessage, len(batch))
	for i, req := range batch {
		msgs[i] = req.msg
	}
	results, err := c.MessageStore.CreateMessages(ctx, msgs)
	if err == nil && len(results) == len(batch) {
		for i, req := range batch {
			req.reply <- reply{res: results[i]}
		}
		return
	}
	if len(batch) == 1 {
		batch[0].reply <- reply{err: err}
		return
	}
	for _, req := range batch {
		res, err := c.MessageStore.CreateMessages(ctx, []ims.NewMessage{req.msg})
		if err != nil {
			req.reply <- reply{err: err}
			continue
		}
		req.reply <- reply{res: res[0]}
	}
}
