package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/batch"
)

// renewer batches the CheckClaims and RenewClaims calls of queue consumers:
// entries that arrive together are checked against the database in one
// statement of each kind instead of one each (RabbitMQ mode's per-message
// cost, in the benchmark).
//
// Two flushes run at once (flushers): the prefetch (1024 by default) is
// larger than one statement's batch, and with a single flusher the entries
// beyond it waited for the previous statement before theirs could start.
// More flushers would take over the database pool (pgx's default is 4
// connections on 2 cores) from the outcome commits and the leader's claim.
// Concurrent renewals of the same claim are safe: renewSQL is a
// compare-and-set on the handed-over deadline, so only the first commits
// (as with two instances' consumers).
type renewer struct {
	store    ims.DeliveryStore
	lease    time.Duration
	in       chan renewal
	maxBatch int
	flushers int
	// replies recycles the channels a renewal is answered on (see
	// completer.wait).
	replies sync.Pool
}

type renewal struct {
	claim ims.Claim
	// checkOnly asks for CheckClaims: the claim is confirmed as current and
	// keeps its handed-over lease.
	checkOnly bool
	reply     chan renewed
}

type renewed struct {
	msg ims.Message
	ok  bool // false: the claim is stale
	err error
}

// renewFlushers is how many RenewClaims statements one instance runs at
// once (see renewer).
const renewFlushers = 2

func newRenewer(store ims.DeliveryStore, lease time.Duration) *renewer {
	return &renewer{store: store, lease: lease, in: make(chan renewal, 1024), maxBatch: 500, flushers: renewFlushers}
}

// renew returns the message of a claim that is still current, with its
// lease renewed (or, with checkOnly, as it is); ok is false for a stale
// claim.
func (r *renewer) renew(ctx context.Context, c ims.Claim, checkOnly bool) (ims.Message, bool, error) {
	reply, _ := r.replies.Get().(chan renewed)
	if reply == nil {
		reply = make(chan renewed, 1)
	}
	req := renewal{claim: c, checkOnly: checkOnly, reply: reply}
	select {
	case r.in <- req:
	case <-ctx.Done():
		r.replies.Put(reply)
		return ims.Message{}, false, ctx.Err()
	}
	select {
	case res := <-reply:
		r.replies.Put(reply)
		return res.msg, res.ok, res.err
	case <-ctx.Done():
		return ims.Message{}, false, ctx.Err() // reply may still be answered: not recycled
	}
}

// run serves renewals until ctx ends; callers must have stopped by then.
// It returns once every flusher has drained.
func (r *renewer) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range max(r.flushers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch.Run(ctx, r.in, batch.Options{Max: r.maxBatch}, func(b []renewal) error {
				r.flush(context.WithoutCancel(ctx), b)
				return nil
			})
		}()
	}
	wg.Wait()
}

func (r *renewer) flush(ctx context.Context, reqs []renewal) {
	var checks, renewals []renewal
	for _, req := range reqs {
		if req.checkOnly {
			checks = append(checks, req)
		} else {
			renewals = append(renewals, req)
		}
	}
	r.answer(checks, "check", func(claims []ims.Claim) ([]ims.Message, error) {
		return r.store.CheckClaims(ctx, claims)
	})
	r.answer(renewals, "renew", func(claims []ims.Claim) ([]ims.Message, error) {
		return r.store.RenewClaims(ctx, claims, r.lease)
	})
}

// answer runs one statement for reqs and replies to each.
func (r *renewer) answer(reqs []renewal, verb string, call func([]ims.Claim) ([]ims.Message, error)) {
	if len(reqs) == 0 {
		return
	}
	claims := make([]ims.Claim, len(reqs))
	for i, req := range reqs {
		claims[i] = req.claim
	}
	msgs, err := call(claims)
	if err != nil {
		err = fmt.Errorf("%s %d claims: %w", verb, len(claims), err)
	}
	// Positions, not copies: a message is a few hundred bytes, and a map of
	// them was the renewer's largest allocation.
	current := make(map[string]int, len(msgs))
	for i, m := range msgs {
		current[m.ID] = i
	}
	for _, req := range reqs {
		var m ims.Message
		i, ok := current[req.claim.MessageID]
		if ok {
			m = msgs[i]
		}
		req.reply <- renewed{msg: m, ok: ok && m.Attempts == req.claim.Attempt, err: err}
	}
}
