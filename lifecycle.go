package ims

import (
	"strconv"
	"strings"
	"time"
)

// Transition is one move of the message lifecycle, as data: the statuses it
// may start from, the status it leads to, and what it writes to the audit
// trail. The stores apply transitions — they pass From, To and Event to
// their statements — and never spell a state or an event themselves, so
// PostgreSQL and SQLite cannot disagree on the rules.
type Transition struct {
	Name string
	// From lists the statuses the move may start from; empty for create,
	// which starts from no message at all.
	From []Status
	To   Status
	// Event is the audit event type the move writes; "" when it writes none
	// (renewing a lease changes no status and is not worth a row each time).
	Event string
	// Details is the event's text. In a claim's and a release's, "%s" stands
	// for the attempt number: the stores expand it where the number is known
	// (SQL format() on PostgreSQL, printf() on SQLite), DetailsFor in Go.
	// Outcomes and creates have details of their own (OutcomeDetails,
	// CreatedDetails).
	Details string
	// Refusal ends the ECONFLICT message of a move asked for a message in a
	// status it may not start from (see Refuse). Only operator moves have
	// one: the pipeline's moves skip what is not theirs silently.
	Refusal string
}

// The transitions. Statuses, events and texts are those the stores always
// wrote: this file only gives them one home.
var (
	TransitionCreate = Transition{Name: "create", To: StatusPending, Event: EventMessageCreated}
	// TransitionClaim starts from sending too: a sending message whose lease
	// expired (its holder crashed) is due again.
	TransitionClaim = Transition{Name: "claim", From: []Status{StatusPending, StatusSending}, To: StatusSending,
		Event: EventMessageClaimed, Details: "attempt %s"}
	// TransitionRenew extends the lease of a current claim.
	TransitionRenew   = Transition{Name: "renew", From: []Status{StatusSending}, To: StatusSending}
	TransitionRelease = Transition{Name: "release", From: []Status{StatusSending}, To: StatusPending,
		Event: EventMessageReleased, Details: "attempt %s released"}
	TransitionSent  = Transition{Name: "sent", From: []Status{StatusSending}, To: StatusSent, Event: EventMessageSent}
	TransitionRetry = Transition{Name: "retry", From: []Status{StatusSending}, To: StatusPending,
		Event: EventMessageRetryScheduled}
	TransitionDead   = Transition{Name: "dead", From: []Status{StatusSending}, To: StatusDead, Event: EventMessageDead}
	TransitionCancel = Transition{Name: "cancel", From: []Status{StatusPending}, To: StatusCanceled,
		Event: EventMessageCanceled, Refusal: "only pending messages can be canceled"}
	TransitionReplay = Transition{Name: "replay", From: []Status{StatusDead}, To: StatusPending,
		Event: EventMessageReplayed, Refusal: "only dead messages can be replayed"}
	// TransitionExpire moves a message not sent by its expiry to expired:
	// from pending (the sweep, see ExpireDue), or from sending when a retry
	// would fall after the expiry (an outcome) or the lease of a claimed
	// one ran out after it (the sweep). Its event's details say why.
	TransitionExpire = Transition{Name: "expire", From: []Status{StatusPending, StatusSending}, To: StatusExpired,
		Event: EventMessageExpired}
	// TransitionRevive replays a message with a new expiry (see
	// ReplayWithExpiry): the only way back for an expired one, and open to a
	// dead one too, whose old expiry may have passed. Pending, due now,
	// like a replay.
	TransitionRevive = Transition{Name: "revive", From: []Status{StatusDead, StatusExpired}, To: StatusPending,
		Event: EventMessageReplayed, Refusal: "only dead or expired messages can be replayed"}
	// TransitionDefer hands a claimed message back to pending because quiet
	// hours hold it (quiethours.go): due at the window's end, the attempt
	// not counted (as a release), and a message.deferred event. No webhook
	// call was made, so no attempt row is written either.
	TransitionDefer = Transition{Name: "defer", From: []Status{StatusSending}, To: StatusPending,
		Event: EventMessageDeferred}
)

// Transitions lists every transition. The state diagram of the README is
// checked against it.
var Transitions = []Transition{
	TransitionCreate, TransitionClaim, TransitionRenew, TransitionRelease,
	TransitionSent, TransitionRetry, TransitionDead, TransitionCancel, TransitionReplay,
	TransitionExpire, TransitionRevive, TransitionDefer,
}

// OutcomeFrom is the status every outcome transition starts from: a claim
// is only current while its message is sending. Stores that record a batch
// of outcomes in one statement guard it with this one set.
var OutcomeFrom = TransitionSent.From

// Allows reports whether the transition may start from status s.
func (t Transition) Allows(s Status) bool {
	for _, f := range t.From {
		if f == s {
			return true
		}
	}
	return false
}

// FromStrings returns From as strings, the form a query parameter takes.
func (t Transition) FromStrings() []string { return StatusStrings(t.From) }

// StatusStrings returns statuses as strings.
func StatusStrings(statuses []Status) []string {
	out := make([]string, len(statuses))
	for i, s := range statuses {
		out[i] = string(s)
	}
	return out
}

// DetailsFor returns the event text of the move for attempt number attempt.
func (t Transition) DetailsFor(attempt int) string {
	return strings.ReplaceAll(t.Details, "%s", strconv.Itoa(attempt))
}

// Refuse is the ECONFLICT error of the move asked for a message in status
// current, e.g. "message is sent, only pending messages can be canceled".
func (t Transition) Refuse(current Status) error {
	return Errorf(ECONFLICT, "message is %s, %s", current, t.Refusal)
}

// OutcomeTransition returns the transition a delivery decision leads to:
// sent, retry (back to pending), dead or expired. Any other decision status is
// EINVALID, on every store: nothing else may follow an attempt.
func OutcomeTransition(s Status) (Transition, error) {
	switch s {
	case StatusSent:
		return TransitionSent, nil
	case StatusPending:
		return TransitionRetry, nil
	case StatusDead:
		return TransitionDead, nil
	case StatusExpired:
		return TransitionExpire, nil
	}
	return Transition{}, Errorf(EINVALID, "decision status %q is not an outcome: want sent, pending, dead or expired", s)
}

// OutcomeWrite is what recording one outcome writes to its message, decided
// here so that both stores write the same fields. Plain values with flags,
// not pointers: stores plan every outcome of a batch, and this costs them no
// allocation.
type OutcomeWrite struct {
	Transition Transition
	// SetNextAttempt is true for a retry: NextAttemptAt is then written.
	SetNextAttempt bool
	NextAttemptAt  time.Time
	// SetSent is true once delivered: sent_at becomes the outcome's At and
	// provider_message_id the result's ProviderMessageID. Otherwise both
	// keep what they hold.
	SetSent bool
	// LastError is the error to keep on the message: none once sent.
	LastError string
	// Details is the audit event's text.
	Details string
}

// PlanOutcome decides what recording o writes, or EINVALID when its decision
// is not an outcome (see OutcomeTransition).
func PlanOutcome(o Outcome) (OutcomeWrite, error) {
	t, err := OutcomeTransition(o.Decision.Status)
	if err != nil {
		return OutcomeWrite{}, err
	}
	w := OutcomeWrite{Transition: t, LastError: o.Result.ErrorText(), Details: OutcomeDetails(o)}
	switch t.To {
	case StatusSent:
		w.SetSent, w.LastError = true, ""
	case StatusPending:
		w.SetNextAttempt, w.NextAttemptAt = true, o.Decision.NextAttemptAt
	}
	return w, nil
}

// OutcomeDetails is the audit text of an outcome: the decision's reason and
// the HTTP status when there was an answer.
func OutcomeDetails(o Outcome) string {
	if o.Result.StatusCode == 0 {
		return o.Decision.Reason
	}
	return o.Decision.Reason + " (HTTP " + itoa(o.Result.StatusCode) + ")"
}

// CreatedDetails is the audit text of a create: the send_at it was
// scheduled for, if any.
func CreatedDetails(sendAt *time.Time) string {
	if sendAt == nil {
		return ""
	}
	return "send_at " + sendAt.UTC().Format(time.RFC3339Nano)
}

// DefaultReplayLimit is how many dead letters ReplayDeadLetters replays when
// asked for none or a nonsense number: the API's default and cap for a bulk
// replay, so that one call never rewrites an unbounded backlog.
const DefaultReplayLimit = MaxPageLimit

// ReplayLimit applies the replay rule to a requested limit.
func ReplayLimit(n int) int {
	if n <= 0 {
		return DefaultReplayLimit
	}
	return n
}

// Validate checks a filter before it reaches a store: an unknown status is
// EINVALID on every store, never an empty page.
func (f MessageFilter) Validate() error {
	if f.Status != "" && !f.Status.Valid() {
		return Errorf(EINVALID, "unknown status %q", f.Status)
	}
	if f.Priority != "" && !f.Priority.Valid() {
		return Errorf(EINVALID, "unknown priority %q", f.Priority)
	}
	if f.DeliverySet && f.Delivery != DeliveryNone && f.Delivery != DeliveryDelivered && f.Delivery != DeliveryUndelivered {
		return Errorf(EINVALID, "unknown delivery_status %q", f.Delivery)
	}
	if f.PhoneNumber != "" && !ValidPhoneShape(f.PhoneNumber) {
		return Errorf(EINVALID, "phone_number %s", PhoneShapeProblem)
	}
	return nil
}

// SchedulerEvent is the audit event of storing the scheduler state running.
func SchedulerEvent(running bool) string {
	if running {
		return EventSchedulerStarted
	}
	return EventSchedulerStopped
}

// FirstSchedulerVersion is the version of the first stored scheduler state;
// every later change stores the version one above the stored one.
const FirstSchedulerVersion = 1

// PurgeableStatuses are the statuses retention may delete, in the order a
// retention run visits them. Purgeable decides with this list.
var PurgeableStatuses = []Status{StatusSent, StatusCanceled, StatusDead, StatusExpired}
