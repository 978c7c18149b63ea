package ims

import "context"

// Queue carries claimed messages from the pacing leader to the workers of
// every instance (RabbitMQ mode). The database stays the source of truth: a
// queue entry is only a claim to check with DeliveryStore.CheckClaims or
// RenewClaims.
type Queue interface {
	// Publish hands claims over and returns nil only once the broker has
	// confirmed every one of them.
	Publish(ctx context.Context, claims []Claim) error
	// Consume receives claims until ctx ends, reconnecting as needed, and
	// calls handle for each. An entry is acked only after handle returns nil;
	// on error it is requeued. An entry that cannot be parsed goes to the
	// dead-letter queue. handle's held context ends once this consumer no
	// longer holds the entry (its connection to the broker was lost, so the
	// broker may hand the entry to another consumer, marked redelivered) or
	// the queue is closed.
	Consume(ctx context.Context, handle func(held context.Context, d Delivery) error) error
	// Ping reports whether the broker connection is up.
	Ping(ctx context.Context) error
}

// Queue modes: how claimed messages reach the workers. The scheduler picks
// its hand-off by this name (scheduler.Modes lists the ones it runs, and the
// API documents those), config chooses one.
const (
	QueueModeDB       = "db"       // the database is the queue (the default)
	QueueModeRabbitMQ = "rabbitmq" // RabbitMQ carries claims to every instance
)

// Delivery is a claim as a consumer receives it from the queue.
type Delivery struct {
	Claim
	// Redelivered reports that the queue has handed the entry out before:
	// another consumer may hold it still, or have acted on it.
	Redelivered bool
}
