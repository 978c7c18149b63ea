package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/insiderone/ims/internal/logging"
)

// Queue types accepted in Config.QueueType.
const (
	QueueTypeQuorum  = "quorum"
	QueueTypeClassic = "classic"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultPrefix         = "ims"
	DefaultPrefetch       = 64
	DefaultDeliveryLimit  = 10
	DefaultReconnectMin   = 100 * time.Millisecond
	DefaultReconnectMax   = 5 * time.Second
	DefaultRetryPause     = time.Second
	DefaultPublishTimeout = 10 * time.Second
	DefaultDialTimeout    = 10 * time.Second
	DefaultHeartbeat      = 10 * time.Second
)

// maxPrefetch is the largest prefetch count AMQP 0-9-1 can carry (a short).
const maxPrefetch = 1<<16 - 1

// Config configures a Queue. Zero fields take the defaults above.
type Config struct {
	// URL is the broker address, e.g. amqp://guest:guest@127.0.0.1:5672/.
	URL string
	// Prefix names the topology: <prefix>.work, <prefix>.claims,
	// <prefix>.deliveries, <prefix>.dead and <prefix>.dead-letters.
	Prefix string
	// QueueType is "quorum" (default; replicated and durable) or "classic".
	QueueType string
	// Prefetch is about how many unacknowledged claims the broker hands one
	// consumer at a time: the broker's prefetch is Prefetch /
	// maxClaimsPerEntry entries, rounded up.
	Prefetch int
	// Concurrency is how many handlers one Consume call runs at once
	// (default Prefetch; at most Prefetch).
	Concurrency int
	// DeliveryLimit is the quorum queue's x-delivery-limit: an entry
	// redelivered more often than this is dead-lettered. Classic queues have
	// no such limit.
	DeliveryLimit int
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// reconnection attempts.
	ReconnectMin, ReconnectMax time.Duration
	// RetryPause is how long a consumer waits before requeueing an entry whose
	// handler failed, so that a database outage does not spin the queue.
	RetryPause time.Duration
	// PublishTimeout bounds one Publish call when its context has no earlier
	// deadline.
	PublishTimeout time.Duration
	// DialTimeout bounds the TCP dial and the AMQP handshake.
	DialTimeout time.Duration
	// Heartbeat is the AMQP heartbeat interval that detects a dead peer.
	Heartbeat time.Duration
	// OnPoison is called (after the entry was dead-lettered) for each entry
	// whose body cannot be parsed. Optional.
	OnPoison func(ctx context.Context, body []byte, reason string)
	// Logger receives connection events and handler failures. Optional.
	Logger *slog.Logger
}

// withDefaults returns c with zero fields filled in, or an error naming the
// first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, errors.New("rabbitmq config: URL is required")
	}
	// A malformed URL never gets better: fail here rather than redial.
	if _, err := amqp.ParseURI(c.URL); err != nil {
		return c, fmt.Errorf("rabbitmq config: %w", withoutURL(err))
	}
	setDefault(&c.Prefix, DefaultPrefix)
	setDefault(&c.QueueType, QueueTypeQuorum)
	if c.QueueType != QueueTypeQuorum && c.QueueType != QueueTypeClassic {
		return c, fmt.Errorf("rabbitmq config: QueueType %q: want %q or %q", c.QueueType, QueueTypeQuorum, QueueTypeClassic)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Prefetch", c.Prefetch}, {"Concurrency", c.Concurrency}, {"DeliveryLimit", c.DeliveryLimit}} {
		if f.v < 0 {
			return c, fmt.Errorf("rabbitmq config: %s must not be negative, got %d", f.name, f.v)
		}
	}
	if c.Prefetch > maxPrefetch {
		return c, fmt.Errorf("rabbitmq config: Prefetch must be at most %d, got %d", maxPrefetch, c.Prefetch)
	}
	setDefault(&c.Prefetch, DefaultPrefetch)
	setDefault(&c.Concurrency, c.Prefetch)
	c.Concurrency = min(c.Concurrency, c.Prefetch)
	setDefault(&c.DeliveryLimit, DefaultDeliveryLimit)
	setDefault(&c.ReconnectMin, DefaultReconnectMin)
	setDefault(&c.ReconnectMax, DefaultReconnectMax)
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	setDefault(&c.RetryPause, DefaultRetryPause)
	setDefault(&c.PublishTimeout, DefaultPublishTimeout)
	setDefault(&c.DialTimeout, DefaultDialTimeout)
	setDefault(&c.Heartbeat, DefaultHeartbeat)
	c.Logger = logging.OrDiscard(c.Logger)
	return c, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Topology names the exchanges and queues a Queue uses.
type Topology struct {
	Exchange   string // direct exchange claims are published to
	RoutingKey string // binds Queue to Exchange
	// Queue is the work queue Publish routes to and consumers read: entries
	// in the claims format (up to maxClaimsPerEntry claims each).
	Queue string
	// LegacyQueue is the work queue of instances from before the claims
	// format, bound with LegacyRoutingKey: they publish single JSON claims
	// to it and read only it. Consumers read it too, so that nothing such an
	// instance queued is left behind, while it never receives an entry it
	// cannot parse.
	LegacyQueue      string
	LegacyRoutingKey string
	DeadExchange     string // fanout dead-letter exchange
	DeadQueue        string // holds dead-lettered entries for inspection
}

// TopologyFor names the topology a Queue with Config.Prefix prefix declares,
// for tools and tests that must find or delete it without a Queue.
func TopologyFor(prefix string) Topology {
	return Topology{
		Exchange:         prefix + ".work",
		RoutingKey:       prefix + ".claims",
		Queue:            prefix + ".claims",
		LegacyQueue:      prefix + ".deliveries",
		LegacyRoutingKey: prefix + ".deliveries",
		DeadExchange:     prefix + ".dead",
		DeadQueue:        prefix + ".dead-letters",
	}
}

// Queues lists every queue of the topology, e.g. to delete them.
func (t Topology) Queues() []string { return []string{t.Queue, t.LegacyQueue, t.DeadQueue} }

// Exchanges lists every exchange of the topology.
func (t Topology) Exchanges() []string { return []string{t.Exchange, t.DeadExchange} }
