package ims

// EventQueuePoison is written for a queue entry no consumer could process
// (RabbitMQ mode); its details hold the reason and the start of the entry.
const EventQueuePoison = "queue.poison"

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
