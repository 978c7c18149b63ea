package ims

import "time"

// Audit event types. Message events carry the message ID.
const (
	EventMessageCreated        = "message.created"
	EventMessageClaimed        = "message.claimed"
	EventMessageSent           = "message.sent"
	EventMessageRetryScheduled = "message.retry_scheduled"
	EventMessageDead           = "message.dead"
	EventMessageReplayed       = "message.replayed"
	EventMessageCanceled       = "message.canceled"
	EventMessageReleased       = "message.released"
	EventSchedulerStarted      = "scheduler.started"
	EventSchedulerStopped      = "scheduler.stopped"
	EventLeaderElected         = "scheduler.leader_elected"
	EventSystemStarted         = "system.started"
	EventSystemStopped         = "system.stopped"
	// EventRetentionPurged is written once per retention run that deleted
	// anything; its details hold the counts per kind.
	EventRetentionPurged = "retention.purged"
)

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
