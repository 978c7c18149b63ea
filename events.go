package ims

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
