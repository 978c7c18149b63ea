package ims

// The audit event types, every one of them in this file (a test keeps it
// so). Message events carry the message ID.

// The lifecycle's events: each Transition in lifecycle.go names one.
const (
	EventMessageCreated        = "message.created"
	EventMessageClaimed        = "message.claimed"
	EventMessageSent           = "message.sent"
	EventMessageRetryScheduled = "message.retry_scheduled"
	EventMessageDead           = "message.dead"
	EventMessageReplayed       = "message.replayed"
	EventMessageCanceled       = "message.canceled"
	EventMessageReleased       = "message.released"
	// EventMessageExpired is written when a message expires; its details
	// say why (an ExpiryReason).
	EventMessageExpired = "message.expired"
	// EventMessageDeferred is written when quiet hours hold a message: at
	// create, or when a claimed message would be sent inside the window.
	// Its details give the reason and the new due time.
	EventMessageDeferred = "message.deferred"
)

// The fleet's and the processes' events.
const (
	EventSchedulerStarted = "scheduler.started"
	EventSchedulerStopped = "scheduler.stopped"
	EventLeaderElected    = "scheduler.leader_elected"
	EventSystemStarted    = "system.started"
	EventSystemStopped    = "system.stopped"
	// EventRetentionPurged is written once per retention run that deleted
	// anything; its details hold the counts per kind.
	EventRetentionPurged = "retention.purged"
)

// The provider's events (breaker.go, ratelimit.go). EventCircuitOpened's
// details hold the last provider error; EventThrottled's the pause and the
// reduced rate.
const (
	EventCircuitOpened = "webhook.circuit_opened"
	EventCircuitClosed = "webhook.circuit_closed"
	EventThrottled     = "webhook.throttled"
)

// EventQueuePoison is written for a queue entry no consumer could process
// (RabbitMQ mode); its details hold the reason and the start of the entry.
const EventQueuePoison = "queue.poison"

// EventMessageDeliveryReport is written when a delivery report changes a
// message's delivery status; its details are DeliveryReportDetails.
const EventMessageDeliveryReport = "message.delivery_report"

// EventCallbackGivenUp is written when a status callback is given up after
// STATUS_CALLBACK_MAX_RETRIES; its details are CallbackGivenUpDetails.
const EventCallbackGivenUp = "callback.given_up"

// EventTypes lists every audit event type: the values GET /api/audit?type=
// accepts (anything else is a 400 that lists these). TestEventTypesListsEvery
// constant keeps it complete.
var EventTypes = []string{
	EventMessageCreated, EventMessageClaimed, EventMessageSent, EventMessageRetryScheduled,
	EventMessageDead, EventMessageReplayed, EventMessageCanceled, EventMessageReleased,
	EventSchedulerStarted, EventSchedulerStopped, EventLeaderElected,
	EventSystemStarted, EventSystemStopped, EventQueuePoison, EventRetentionPurged,
	EventMessageExpired, EventCircuitOpened, EventCircuitClosed, EventThrottled,
	EventMessageDeferred,
	EventMessageDeliveryReport, EventCallbackGivenUp,
}

// KnownEventType reports whether t is one of EventTypes.
func KnownEventType(t string) bool {
	for _, v := range EventTypes {
		if t == v {
			return true
		}
	}
	return false
}
