package ims

import "time"

// ActorSystem signs the events the pipeline writes on no one's behalf: a
// release hands a claim back (on shutdown, a stop, a lost lease), and
// ReleaseClaims takes no actor.
const ActorSystem = "system"

// AuditEvent is one entry of the audit trail.
type AuditEvent struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	MessageID string `json:"message_id,omitempty"`
	// Actor says who caused the event: "api:<request id>", "scheduler:<instance>", ...
	Actor     string    `json:"actor"`
	Details   string    `json:"details,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// AuditFilter selects audit events. Lists are newest first.
type AuditFilter struct {
	Type      string
	MessageID string
	Since     time.Time // inclusive; zero = unbounded
	Until     time.Time // exclusive; zero = unbounded
	Before    int64     // cursor: only events with a lower ID
	Limit     int
}

// AuditPage is one page of audit events.
type AuditPage struct {
	Events     []AuditEvent `json:"events"`
	NextCursor string       `json:"next_cursor,omitempty"`
}
