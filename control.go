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
	// Fleet, on a stop's answer only, says which live instances confirmed
	// the stop before it answered.
	Fleet *FleetConfirmation `json:"fleet,omitempty"`
	ProviderStatus
}

// FleetConfirmation is how a stop (version Version) was confirmed by the
// live instances (fresh heartbeat, InstanceStale) before it answered.
// Confirmed have applied it, and so start no call; TimedOut did not confirm
// within the bound, after which an instance that has not read the stored
// state refuses calls on its own (README, What a stop guarantees).
type FleetConfirmation struct {
	Version   int64    `json:"version"`
	Confirmed []string `json:"confirmed"`
	TimedOut  []string `json:"timed_out"`
}

// ProviderStatus is how the fleet stands with the provider: the rate limit
// and the circuit breaker (GET /api/control, health, metrics).
type ProviderStatus struct {
	// RateLimit is WEBHOOK_RATE_LIMIT, calls per second, 0 for none.
	RateLimit float64 `json:"rate_limit"`
	// EffectiveRate is the rate calls may start at now: RateLimit, less
	// after a throttle, 0 while paused (and 0 with no limit).
	EffectiveRate float64 `json:"effective_rate"`
	// PausedUntil is the end of a throttle pause, nil when none holds.
	PausedUntil *time.Time   `json:"paused_until"`
	Circuit     CircuitState `json:"circuit"`
	// CircuitSince is when the outage began, while the circuit is not
	// closed; LastError the provider failure that opened it ("HTTP 401").
	CircuitSince *time.Time `json:"circuit_since,omitempty"`
	LastError    string     `json:"circuit_last_error,omitempty"`
}

// SchedulerControl starts and stops the fleet-wide scheduler. The state is
// stored, so it holds across restarts and for every instance: StartFleet and
// StopFleet change it for the whole fleet, not only for this process.
type SchedulerControl interface {
	StartFleet(ctx context.Context, actor string) (SchedulerStatus, error)
	StopFleet(ctx context.Context, actor string) (SchedulerStatus, error)
	Status(ctx context.Context) (SchedulerStatus, error)
}
