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
