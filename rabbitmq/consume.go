package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/insiderone/ims"
)

// Consume receives claims until ctx ends and calls handle for each, with at
// most Concurrency handlers at once. An entry (up to maxClaimsPerEntry
// claims) is acked once handle has returned nil for each of its claims, and
// requeued (after RetryPause) when it returned an error for any; an entry
// that cannot be parsed is dead-lettered and reported to OnPoison. When the
// connection or channel is lost, Consume resubscribes by itself; entries in
// flight at that moment are redelivered by the broker.
//
// Handlers get a context that is not canceled when ctx ends, so that a
// delivery under way can finish and record its outcome: Consume returns nil
// once ctx has ended and every handler has returned. It is canceled when the
// channel the entry came on is lost (the broker then requeues the entry and
// may hand it to another consumer, marked redelivered), and by Close, after
// which Consume returns ErrClosed.
func (q *Queue) Consume(ctx context.Context, handle func(held context.Context, d ims.Delivery) error) error {
	if handle == nil {
		return errors.New("consume: handle is nil")
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopAfter := context.AfterFunc(q.life, cancel)
	defer stopAfter()

	c := &consumer{q: q, handle: handle, ctx: hctx, stop: ctx, slots: make(chan struct{}, q.cfg.Concurrency),
		tasks: make(chan func())}
	defer func() {
		c.wg.Wait()
		close(c.tasks)
		c.handlers.Wait()
	}()
	return c.run(ctx)
}

// consumer is the state of one Consume call. Its slots bound the handlers in
// flight across reconnections, so a handler still running on a lost channel
// keeps its slot.
type consumer struct {
	q      *Queue
	handle func(held context.Context, d ims.Delivery) error
	ctx    context.Context // parent of each session's handler context
	stop   context.Context // Consume's context
	slots  chan struct{}
	wg     sync.WaitGroup // handlers and channel closers
	// tasks hands a claim's handling to an idle handler goroutine (see
	// goHandler); handlers counts those goroutines, which end once tasks
	// is closed.
	tasks    chan func()
	handlers sync.WaitGroup
	started  atomic.Int64
}

// consumerTag and legacyConsumerTag name the subscriptions to the work
// queue and to the legacy one on each session's channel (tags are per
// channel), so that a stopping session can cancel them.
const (
	consumerTag       = "ims-worker"
	legacyConsumerTag = "ims-worker-legacy"
)

// run subscribes again and again until ctx or the queue ends.
func (c *consumer) run(ctx context.Context) error {
	b := backoff{min: c.q.cfg.ReconnectMin, max: c.q.cfg.ReconnectMax}
	for {
		conn, err := c.q.waitConnected(ctx)
		if err != nil {
			return c.exitErr(ctx, err)
		}
		subscribed, err := c.session(ctx, conn)
		if ctx.Err() != nil || c.q.life.Err() != nil {
			return c.exitErr(ctx, ctx.Err())
		}
		if subscribed {
			b.reset()
		}
		c.q.log.Warn("rabbitmq consumer lost its subscription; resubscribing", "err", err)
		if !sleep(ctx, b.next()) {
			return c.exitErr(ctx, ctx.Err())
		}
	}
}

func (c *consumer) exitErr(ctx context.Context, err error) error {
	if c.q.life.Err() != nil {
		return ErrClosed
	}
	if ctx.Err() != nil {
		return nil //nolint:nilerr // the caller's context ended: a clean stop, not a failure
	}
	return err
}

// waitConnected returns the live connection, waiting while it is down.
func (q *Queue) waitConnected(ctx context.Context) (*amqp.Connection, error) {
	for {
		conn, up := q.current()
		if conn != nil {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.life.Done():
			return nil, ErrClosed
		case <-up:
		}
	}
}

// session consumes on one channel until the channel is lost or ctx ends. It
// reports whether the subscription was established.
func (c *consumer) session(ctx context.Context, conn *amqp.Connection) (bool, error) {
	ch, err := conn.Channel()
	if err != nil {
		return false, fmt.Errorf("open consumer channel: %w", err)
	}
	var inflight sync.WaitGroup
	defer c.closeAfter(ch, &inflight)
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	held := c.holdWhileOpen(ch)
	// The prefetch counts claims; the broker's counts entries, which carry
	// up to maxClaimsPerEntry claims each.
	if err := ch.Qos(entriesFor(c.q.cfg.Prefetch), 0, false); err != nil {
		return false, fmt.Errorf("set prefetch: %w", err)
	}
	deliveries, err := ch.Consume(c.q.topo.Queue, consumerTag, false, false, false, false, nil)
	if err != nil {
		return false, fmt.Errorf("consume %s: %w", c.q.topo.Queue, err)
	}
	legacy, err := ch.Consume(c.q.topo.LegacyQueue, legacyConsumerTag, false, false, false, false, nil)
	if err != nil {
		return false, fmt.Errorf("consume %s: %w", c.q.topo.LegacyQueue, err)
	}
	for {
		// Take a slot before taking an entry, so that an entry never waits
		// in this process while a handler is free elsewhere in the fleet.
		select {
		case <-ctx.Done():
			return true, nil
		case c.slots <- struct{}{}:
		}
		select {
		case <-ctx.Done():
			<-c.slots
			return true, nil
		case d, ok := <-deliveries:
			if err := c.received(ctx, held, d, ok, closed, &inflight); err != nil || ctx.Err() != nil {
				return true, err
			}
		case d, ok := <-legacy:
			if err := c.received(ctx, held, d, ok, closed, &inflight); err != nil || ctx.Err() != nil {
				return true, err
			}
		}
	}
}

// received starts the handlers of an entry taken off a deliveries channel
// (ok false: that channel closed, with the consumer channel).
func (c *consumer) received(ctx, held context.Context, d amqp.Delivery, ok bool, closed <-chan *amqp.Error, inflight *sync.WaitGroup) error {
	if !ok {
		<-c.slots
		return errors.New("delivery channel closed")
	}
	return c.start(ctx, held, d, closed, inflight)
}

// holdWhileOpen returns the context of the handlers of entries taken off ch:
// it ends when ch closes, whether lost (the broker requeues what it had
// handed out on it) or closed by closeAfter once its handlers are done.
func (c *consumer) holdWhileOpen(ch *amqp.Channel) context.Context {
	held, release := context.WithCancel(c.ctx)
	lost := ch.NotifyClose(make(chan *amqp.Error, 1))
	c.wg.Go(func() {
		defer release()
		select {
		case <-lost: // closed: amqp091 closes it when the channel shuts down
		case <-held.Done(): // the queue closed
		}
	})
	return held
}

// start runs the handlers of one entry, holding the slot taken for it and
// taking one more for each further claim. When ctx ends or the channel is
// lost before every claim has started, the rest are not started and the
// entry is requeued once the started ones are done; start then returns the
// channel's loss, if that was it.
func (c *consumer) start(ctx, held context.Context, d amqp.Delivery, closed <-chan *amqp.Error, inflight *sync.WaitGroup) error {
	claims, err := DecodeEntry(d.Body)
	if err != nil {
		c.goHandler(inflight, func() { c.poison(d, err) })
		return nil
	}
	e := &entry{d: d, held: held, pending: len(claims)}
	for i, claim := range claims {
		if i > 0 {
			select {
			case c.slots <- struct{}{}:
			case <-ctx.Done():
				c.abandon(e, len(claims)-i)
				return nil
			case <-closed:
				c.abandon(e, len(claims)-i)
				return errors.New("consumer channel closed")
			}
		}
		c.goHandler(inflight, func() { c.process(e, claim) })
	}
	return nil
}

// goHandler runs f in a handler goroutine that gives its slot back. The
// goroutines are long-lived: an idle one takes f, and a new one starts only
// when none is idle, up to Concurrency of them (one per slot). A goroutine
// per claim grew a fresh stack for every claim: stack copying was 2.4% of
// IMS's CPU in RabbitMQ mode (docs/benchmarks.md).
func (c *consumer) goHandler(inflight *sync.WaitGroup, f func()) {
	inflight.Add(1)
	c.wg.Add(1)
	task := func() {
		defer c.wg.Done()
		defer inflight.Done()
		defer func() { <-c.slots }()
		f()
	}
	select {
	case c.tasks <- task:
		return
	default:
	}
	if c.started.Add(1) <= int64(cap(c.slots)) {
		c.handlers.Go(func() {
			task()
			for task := range c.tasks {
				task()
			}
		})
		return
	}
	// All are started and none is idle yet; the slot taken for f was given
	// back by one of them, which is on its way back to tasks.
	c.started.Add(-1)
	c.tasks <- task
}

// entry is one delivery whose claims are being handled. It is settled once,
// by whoever finishes its last claim: acked only if every claim's handler
// returned nil, requeued otherwise (the claims already handled come back
// and are dropped as stale by RenewClaims, as any redelivered entry).
type entry struct {
	d          amqp.Delivery
	held       context.Context // the handlers' (see holdWhileOpen)
	mu         sync.Mutex
	pending    int   // claims started or to start and not finished
	failed     error // the first handler error
	incomplete bool  // some claims were never started
}

// finish records n claims as done (err: how the handled one ended) and
// reports whether the entry is now to be settled.
func (e *entry) finish(n int, err error, incomplete bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failed == nil {
		e.failed = err
	}
	e.incomplete = e.incomplete || incomplete
	e.pending -= n
	return e.pending == 0
}

// abandon gives up the n claims of e not started.
func (c *consumer) abandon(e *entry, n int) {
	if e.finish(n, nil, true) {
		c.settle(e)
	}
}

// process handles one claim of an entry, and settles the entry if it was
// the last one.
func (c *consumer) process(e *entry, claim ims.Claim) {
	err := c.handle(e.held, ims.Delivery{Claim: claim, Redelivered: e.d.Redelivered})
	if err != nil {
		c.q.log.Warn("claim handler failed; requeueing", "message_id", claim.MessageID, "attempt", claim.Attempt, "err", err)
	}
	if e.finish(1, err, false) {
		c.settle(e)
	}
}

// settle acks or requeues an entry all of whose claims are done.
func (c *consumer) settle(e *entry) {
	if e.failed == nil && !e.incomplete {
		if err := e.d.Ack(false); err != nil {
			// The channel is gone; the broker redelivers the entry and
			// RenewClaims drops its claims as stale.
			c.q.log.Warn("ack queue entry", "delivery_tag", e.d.DeliveryTag, "err", err)
		}
		return
	}
	if !e.incomplete {
		// Pause before requeueing: an outage behind the handler (the
		// database) would otherwise bounce entries as fast as the network
		// goes.
		c.pause()
	}
	if err := e.d.Nack(false, true); err != nil {
		c.q.log.Warn("requeue queue entry", "delivery_tag", e.d.DeliveryTag, "err", err)
	}
}

// closeAfter closes ch once its handlers are done, so that their acks still
// reach the broker; entries prefetched but not handled are then requeued.
// It cancels the subscription first and waits for the broker to confirm:
// a quorum queue may otherwise see the channel close before the acks just
// sent, and hand the acknowledged entries out again (seen on RabbitMQ 3.10
// in TestPublishConsumeExactlyOnce).
func (c *consumer) closeAfter(ch *amqp.Channel, inflight *sync.WaitGroup) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		inflight.Wait()
		_ = ch.Cancel(consumerTag, false)
		_ = ch.Cancel(legacyConsumerTag, false)
		_ = ch.Close()
	}()
}

func (c *consumer) poison(d amqp.Delivery, reason error) {
	c.q.log.Error("unparseable queue entry; dead-lettering", "message_id", d.MessageId, "err", reason)
	if err := d.Nack(false, false); err != nil {
		c.q.log.Warn("dead-letter entry", "message_id", d.MessageId, "err", err)
		return
	}
	if c.q.cfg.OnPoison != nil {
		c.q.cfg.OnPoison(c.ctx, d.Body, reason.Error())
	}
}

// pause waits RetryPause, cut short when Consume or the queue ends.
func (c *consumer) pause() {
	t := time.NewTimer(c.q.cfg.RetryPause)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.ctx.Done():
	case <-c.stop.Done():
	}
}
