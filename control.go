package ims

import (
	"context"
	"time"
)

// SchedulerStatus is what GET /api/control and the health check report.
type SchedulerStatus struct {
	Running   bool          `json:"running"`
	Interval  time.Duration `json:"-"`
	BatchSize int           `json:"batch_size"`
	// QueueMode is "db" or "rabbitmq".
	QueueMode string    `json:"queue_mode"`
	Instance  string    `json:"instance"`
	Leader    string    `json:"leader,omitempty"`
	IsLeader  bool      `json:"is_leader"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// SchedulerControl starts and stops the fleet-wide scheduler. The state is
// stored, so it holds across restarts and for every instance: StartFleet and
// StopFleet change it for the whole fleet, not only for this process.
type SchedulerControl interface {
	StartFleet(ctx context.Context, actor string) (SchedulerStatus, error)
	StopFleet(ctx context.Context, actor string) (SchedulerStatus, error)
	Status(ctx context.Context) (SchedulerStatus, error)
}

// Queue carries claimed messages from the pacing leader to the workers of
// every instance (RabbitMQ mode). The database stays the source of truth: a
// queue entry is only a claim to check with DeliveryStore.RenewClaims.
type Queue interface {
	// Publish hands claims over and returns nil only once the broker has
	// confirmed every one of them.
	Publish(ctx context.Context, claims []Claim) error
	// Consume receives claims until ctx ends, reconnecting as needed, and
	// calls handle for each. An entry is acked only after handle returns nil;
	// on error it is requeued. An entry that cannot be parsed goes to the
	// dead-letter queue.
	Consume(ctx context.Context, handle func(ctx context.Context, c Claim) error) error
	// Ping reports whether the broker connection is up.
	Ping(ctx context.Context) error
}
