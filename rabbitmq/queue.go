package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/insiderone/ims"
)

// Errors returned while the broker cannot be used.
var (
	// ErrNotConnected means the connection is down and being re-established.
	ErrNotConnected = errors.New("rabbitmq: not connected")
	// ErrClosed means Close was called.
	ErrClosed = errors.New("rabbitmq: queue closed")
)

var _ ims.Queue = (*Queue)(nil)

// Queue is an ims.Queue on RabbitMQ. It is safe for concurrent use.
type Queue struct {
	cfg  Config
	topo Topology
	log  *slog.Logger

	// life ends when Close is called; it stops the supervisor and the
	// handlers of every Consume call.
	life context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup // the supervisor

	mu     sync.Mutex
	conn   *amqp.Connection // nil while disconnected
	up     chan struct{}    // closed while conn is set
	closed bool

	pubMu sync.Mutex    // serialises batches on the confirm channel
	pubCh *amqp.Channel // confirm-mode channel, opened lazily
	// claimsPerEntry is the last Publish's claims per entry, in thousandths
	// (0 until the first one), for Depth.
	claimsPerEntry atomic.Int64
}

// New starts a Queue. It tries to connect once, within ctx and DialTimeout.
// A broker that answers and refuses — wrong credentials or vhost, a topology
// that conflicts with existing exchanges or queues — is a configuration
// error and fails New. An unreachable broker is not: it may come back, so
// the Queue starts disconnected (Ping reports ErrNotConnected, Publish fails
// fast, Consume waits) and the supervisor keeps redialing with backoff, as
// after a lost connection.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	q := &Queue{cfg: cfg, topo: TopologyFor(cfg.Prefix), log: cfg.Logger, up: make(chan struct{})}
	conn, err := q.connect(ctx)
	if err != nil && (refused(err) || ctx.Err() != nil) {
		return nil, err
	}
	q.life, q.stop = context.WithCancel(context.WithoutCancel(ctx))
	if conn != nil {
		q.setConnected(conn)
	} else {
		q.log.Warn("rabbitmq unreachable; starting without it and reconnecting in the background", "err", err)
	}
	q.wg.Add(1)
	go q.supervise(conn)
	return q, nil
}

// refused reports whether err is the broker's own answer that retrying
// cannot change, as opposed to a network failure.
func refused(err error) bool {
	var aerr *amqp.Error
	if !errors.As(err, &aerr) {
		return false
	}
	switch aerr.Code {
	case amqp.AccessRefused, amqp.PreconditionFailed, amqp.NotAllowed, amqp.InvalidPath:
		return true
	}
	return false
}

// Topology returns the names of the exchanges and queues in use.
func (q *Queue) Topology() Topology { return q.topo }

// connect dials the broker and declares the topology on the new connection.
// Until it returns, ctx ending closes the socket: amqp091-go runs the
// handshake and the declarations without a context.
func (q *Queue) connect(ctx context.Context) (*amqp.Connection, error) {
	var unwatch func() bool
	dial := func(network, addr string) (net.Conn, error) {
		c, err := q.dial(ctx, network, addr)
		if err == nil {
			unwatch = context.AfterFunc(ctx, func() { _ = c.Close() })
		}
		return c, err
	}
	defer func() {
		if unwatch != nil {
			unwatch()
		}
	}()
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("ims " + q.cfg.Prefix)
	conn, err := amqp.DialConfig(q.cfg.URL, amqp.Config{
		Heartbeat:  q.cfg.Heartbeat,
		Properties: props,
		Dial:       dial,
		Locale:     "en_US",
	})
	if err != nil {
		return nil, fmt.Errorf("connect to rabbitmq: %w", withoutURL(err))
	}
	if err := q.declare(conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// dial bounds the TCP dial and the AMQP handshake by DialTimeout.
func (q *Queue) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: q.cfg.DialTimeout}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	// amqp091-go clears the deadline once the handshake is done.
	if err := c.SetDeadline(time.Now().Add(q.cfg.DialTimeout)); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// withoutURL keeps credentials out of logs: a URL parse error quotes the
// whole URL, password included.
func withoutURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("invalid URL: %w", urlErr.Err)
	}
	return err
}

// declare creates the topology; declarations are idempotent, and repeating
// them after a reconnection restores a broker that lost its definitions.
func (q *Queue) declare(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("declare topology: open channel: %w", err)
	}
	defer func() { _ = ch.Close() }()
	t := q.topo
	if err := ch.ExchangeDeclare(t.Exchange, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", t.Exchange, err)
	}
	if err := ch.ExchangeDeclare(t.DeadExchange, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", t.DeadExchange, err)
	}
	if _, err := ch.QueueDeclare(t.DeadQueue, true, false, false, false, amqp.Table{amqp.QueueTypeArg: q.cfg.QueueType}); err != nil {
		return fmt.Errorf("declare queue %s: %w", t.DeadQueue, err)
	}
	if err := ch.QueueBind(t.DeadQueue, "", t.DeadExchange, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", t.DeadQueue, err)
	}
	for _, w := range []struct{ queue, key string }{{t.Queue, t.RoutingKey}, {t.LegacyQueue, t.LegacyRoutingKey}} {
		if _, err := ch.QueueDeclare(w.queue, true, false, false, false, q.workQueueArgs()); err != nil {
			return fmt.Errorf("declare queue %s: %w", w.queue, err)
		}
		if err := ch.QueueBind(w.queue, w.key, t.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s: %w", w.queue, err)
		}
	}
	return nil
}

func (q *Queue) workQueueArgs() amqp.Table {
	args := amqp.Table{
		amqp.QueueTypeArg:        q.cfg.QueueType,
		"x-dead-letter-exchange": q.topo.DeadExchange,
	}
	if q.cfg.QueueType == QueueTypeQuorum {
		args["x-delivery-limit"] = q.cfg.DeliveryLimit
	}
	return args
}

// setConnected publishes a fresh connection, unless Close came first; it
// reports whether the connection was taken.
func (q *Queue) setConnected(conn *amqp.Connection) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.conn = conn
	close(q.up)
	return true
}

func (q *Queue) setDisconnected() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.conn == nil {
		return
	}
	q.conn = nil
	q.up = make(chan struct{})
}

// current returns the live connection, or nil and a channel closed once there
// is one again.
func (q *Queue) current() (*amqp.Connection, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.conn != nil && q.conn.IsClosed() {
		// The supervisor has not seen the close yet; report it already so
		// that callers fail fast instead of using a dead connection.
		return nil, q.up
	}
	return q.conn, q.up
}

// supervise (re)dials whenever there is no connection, until Close. conn is
// nil when New could not connect.
func (q *Queue) supervise(conn *amqp.Connection) {
	defer q.wg.Done()
	for {
		if conn == nil {
			if conn = q.redial(); conn == nil {
				return
			}
			q.log.Info("rabbitmq connection established")
		}
		lost := conn.NotifyClose(make(chan *amqp.Error, 1))
		var reason *amqp.Error
		select {
		case <-q.life.Done():
			return
		case reason = <-lost:
		}
		if q.life.Err() != nil {
			return
		}
		q.setDisconnected()
		q.log.Warn("rabbitmq connection lost; reconnecting", "reason", reason)
		conn = nil
	}
}

// redial connects with exponential backoff and jitter; it returns nil when
// Close ends the attempts.
func (q *Queue) redial() *amqp.Connection {
	b := backoff{min: q.cfg.ReconnectMin, max: q.cfg.ReconnectMax}
	for attempt := 1; ; attempt++ {
		if !sleep(q.life, b.next()) {
			return nil
		}
		conn, err := q.connect(q.life)
		if err != nil {
			q.log.Warn("rabbitmq reconnect failed", "attempt", attempt, "err", err)
			continue
		}
		if !q.setConnected(conn) {
			_ = conn.Close()
			return nil
		}
		return conn
	}
}

// Ping reports whether the broker connection is up.
func (q *Queue) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if conn, _ := q.current(); conn == nil {
		return ErrNotConnected
	}
	return nil
}

// Close closes the connection (and with it every channel) and stops the
// supervisor. Running Consume calls return ErrClosed once their handlers,
// whose contexts are canceled, have returned.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	conn := q.conn
	q.conn = nil
	q.mu.Unlock()

	q.stop()
	var err error
	if conn != nil {
		if cerr := conn.Close(); cerr != nil && !errors.Is(cerr, amqp.ErrClosed) {
			err = fmt.Errorf("close rabbitmq connection: %w", cerr)
		}
	}
	q.wg.Wait()
	return err
}

// backoff yields exponentially growing delays between min and max with
// "equal jitter", so that a fleet does not reconnect in lockstep.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
