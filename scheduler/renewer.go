package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/batch"
)

// renewer batches the RenewClaims calls of queue consumers: entries that
// arrive together are checked against the database in one statement instead
// of one commit each (RabbitMQ mode's per-message cost, in the benchmark).
type renewer struct {
	store    ims.DeliveryStore
	lease    time.Duration
	in       chan renewal
	maxBatch int
}

type renewal struct {
	claim ims.Claim
	reply chan renewed
}

type renewed struct {
	msg ims.Message
	ok  bool // false: the claim is stale
	err error
}

func newRenewer(store ims.DeliveryStore, lease time.Duration) *renewer {
	return &renewer{store: store, lease: lease, in: make(chan renewal, 1024), maxBatch: 500}
}

// renew returns the message of a claim that is still current, with its
// lease renewed; ok is false for a stale claim.
func (r *renewer) renew(ctx context.Context, c ims.Claim) (ims.Message, bool, error) {
	req := renewal{claim: c, reply: make(chan renewed, 1)}
	select {
	case r.in <- req:
	case <-ctx.Done():
		return ims.Message{}, false, ctx.Err()
	}
	select {
	case res := <-req.reply:
		return res.msg, res.ok, res.err
	case <-ctx.Done():
		return ims.Message{}, false, ctx.Err()
	}
}

// run serves renewals until ctx ends; callers must have stopped by then.
func (r *renewer) run(ctx context.Context) {
	batch.Run(ctx, r.in, batch.Options{Max: r.maxBatch}, func(b []renewal) error {
		r.flush(context.WithoutCancel(ctx), b)
		return nil
	})
}

func (r *renewer) flush(ctx context.Context, reqs []renewal) {
	claims := make([]ims.Claim, len(reqs))
	for i, req := range reqs {
		claims[i] = req.claim
	}
	msgs, err := r.store.RenewClaims(ctx, claims, r.lease)
	if err != nil {
		err = fmt.Errorf("renew %d claims: %w", len(claims), err)
	}
	current := make(map[string]ims.Message, len(msgs))
	for _, m := range msgs {
		current[m.ID] = m
	}
	for _, req := range reqs {
		m, ok := current[req.claim.MessageID]
		req.reply <- renewed{msg: m, ok: ok && m.Attempts == req.claim.Attempt, err: err}
	}
}
