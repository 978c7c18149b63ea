package ims

// An attempt row is written by the claim, not by the outcome: the claim
// inserts it in flight, and the outcome finishes it. The audit trail's
// message.claimed and message.sent events of a delivery are read from that
// row (ClaimedEventID, SentEventID) instead of being stored twice. These
// are the outcomes an attempt row holds that are no webhook answer.
const (
	// AttemptInFlight is the outcome of an attempt whose claim has not
	// reported yet.
	AttemptInFlight = "sending"
	// AttemptReleased closes an attempt handed back unused (TransitionRelease).
	AttemptReleased = "released"
	// AttemptDeferred closes an attempt held back for quiet hours
	// (TransitionDefer).
	AttemptDeferred = "deferred"
	// AttemptLeaseExpired closes an attempt whose claim never reported: its
	// lease ran out and the message was claimed again or expired.
	AttemptLeaseExpired = "lease_expired"
)

// UnfinishedAttemptOutcomes are the attempt outcomes the message's attempt
// list leaves out: no webhook answer was recorded for them, so they are not
// attempts in the API's sense (Attempt lists finished attempts only). Their
// claims stay in the audit trail.
var UnfinishedAttemptOutcomes = []string{AttemptInFlight, AttemptReleased, AttemptDeferred, AttemptLeaseExpired}

// The audit events an attempt row stands for take IDs from the same
// sequence as stored events, which steps by two: an attempt's ID is its
// message.claimed event's, and the ID after it, which nothing else takes,
// its message.sent event's. So events keep one ordered int64 cursor, and
// a message's events stay in the order they happened (nothing else happens
// to a message between its claim and its outcome).
func ClaimedEventID(attemptID int64) int64 { return attemptID }

// SentEventID is the ID of the message.sent event of attempt attemptID.
func SentEventID(attemptID int64) int64 { return attemptID + 1 }

// ReasonDelivered is the decision reason of every sent outcome (Decide).
const ReasonDelivered = "delivered"

// SentEventDetails is the text of the message.sent event of an answer with
// HTTP status statusCode, as OutcomeDetails writes it: what a store
// synthesises from the attempt row.
func SentEventDetails(statusCode int) string {
	return OutcomeDetails(Outcome{Decision: Decision{Reason: ReasonDelivered}, Result: DeliveryResult{StatusCode: statusCode}})
}

// SentEventSynthesised reports whether the message.sent event of a current
// sent outcome can be read from its attempt row: when its text is the one
// SentEventDetails gives. Any other text (a reason set by other code) is
// stored as an audit row, as before.
func SentEventSynthesised(o Outcome, w OutcomeWrite) bool {
	return w.Transition.To == StatusSent && w.Details == SentEventDetails(o.Result.StatusCode)
}
