package ims

import (
	"encoding/json"
	"time"
)

// Status is where a message is in its lifecycle.
//
//	pending ──claim──▶ sending ──2xx──────────────▶ sent
//	   ▲                  │ ├──transient failure──▶ pending (next_attempt_at in the future)
//	   │                  │ └──permanent / retries exhausted──▶ dead
//	   │                  └──lease expired (crash)──▶ claimable again
//	   ├──────────replay──────────────────────────── dead
//	pending ──cancel──▶ canceled
//	pending, sending ──not sent by expires_at──▶ expired
//
// Each move is a Transition (lifecycle.go); the stores apply them.
type Status string

const (
	StatusPending  Status = "pending"
	StatusSending  Status = "sending"
	StatusSent     Status = "sent"
	StatusDead     Status = "dead"
	StatusCanceled Status = "canceled"
	// StatusExpired is the terminal status of a message not sent by its
	// expiry: pending → expired. It is never sent after that.
	StatusExpired Status = "expired"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{StatusPending, StatusSending, StatusSent, StatusDead, StatusCanceled, StatusExpired}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Message is one text to deliver to one phone number through the webhook.
type Message struct {
	// ID is a UUIDv7: time-ordered, so it doubles as the pagination cursor,
	// and it is the Idempotency-Key sent to the webhook on every attempt.
	ID          string `json:"id"`
	PhoneNumber string `json:"phone_number"`
	Content     string `json:"content"`
	Status      Status `json:"status"`
	// Priority orders claims: high first, then normal, then low.
	Priority Priority `json:"priority"`

	// IdempotencyKey is the client's key from POST /api/messages, if any.
	IdempotencyKey string `json:"idempotency_key,omitempty"`

	// Attempts counts delivery attempts started (claims). It is also the
	// fencing token of the current claim: an outcome is only recorded if the
	// message is still sending with the same attempt number.
	Attempts int `json:"attempts"`

	// Held counts the attempts refunded because the provider, not the
	// message, failed (an outage, a refused key, a throttle): the retry
	// budget spent is Attempts-Held (see DecideOutcome).
	Held int `json:"held,omitempty"`

	// NextAttemptAt is when the message becomes due. While sending it is the
	// lease deadline: past it the claim is considered abandoned.
	NextAttemptAt time.Time `json:"next_attempt_at"`

	LastError         string     `json:"last_error,omitempty"`
	ProviderMessageID string     `json:"provider_message_id,omitempty"`
	SendAt            *time.Time `json:"send_at,omitempty"`
	SentAt            *time.Time `json:"sent_at,omitempty"`
	// ExpiresAt is when the message may no longer be sent (nil: never); a
	// message not sent by then becomes expired.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`

	// SMS-native fields (issue 10, parts 1-3), computed once at create and
	// stored: lists, the rate limiter and quiet hours read them as they are.
	//
	// Encoding and Segments are how the content travels (Segment).
	Encoding Encoding `json:"encoding"`
	Segments int      `json:"segments"`
	// Country is the recipient's ISO 3166-1 alpha-2 region, "" when the
	// number maps to none (see ParsePhone).
	Country string `json:"country"`
	// TimeZone is the IANA zone quiet hours are judged in: the number's
	// own when it maps to exactly one, else QUIET_HOURS_DEFAULT_TZ as it
	// was at create.
	TimeZone string `json:"time_zone"`
	// QuietHours is false when the message opted out of quiet hours.
	QuietHours bool `json:"quiet_hours"`

	// Delivery reports and status callbacks (deliveryreport.go, callback.go).
	// DeliveryStatus refines sent with the provider's receipt ("" until one
	// applies); DeliveredAt is the report's time when delivered; ErrorCode
	// is an undelivered report's code. CallbackURL is the message's own
	// status-callback URL ("" uses STATUS_CALLBACK_URL).
	DeliveryStatus DeliveryStatus `json:"delivery_status"`
	DeliveredAt    *time.Time     `json:"delivered_at,omitempty"`
	ErrorCode      string         `json:"error_code,omitempty"`
	CallbackURL    string         `json:"callback_url,omitempty"`
}

// Final reports whether s is a state no message leaves on its own (replay
// is an explicit action): nothing more is planned for it.
func (s Status) Final() bool {
	return s == StatusSent || s == StatusDead || s == StatusCanceled || s == StatusExpired
}

// MarshalJSON leaves next_attempt_at out of final messages: nothing is due
// any more, and a time there reads as if another attempt were planned.
func (m Message) MarshalJSON() ([]byte, error) {
	type plain Message // no methods: no recursion
	out := struct {
		plain
		NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	}{plain: plain(m)}
	if !m.Status.Final() {
		out.NextAttemptAt = &m.NextAttemptAt
	}
	return json.Marshal(out)
}

// NewMessage is a validated request to create a message.
type NewMessage struct {
	PhoneNumber string
	Content     string
	SendAt      *time.Time
	// Priority is the claim order; "" is stored as DefaultPriority.
	Priority Priority
	// ExpiresAt is the resolved expiry (ResolveExpiry); nil never expires.
	ExpiresAt *time.Time
	// ExpiryFixed tells that ExpiresAt came from an absolute expires_at,
	// not from a TTL: an idempotent replay must then name the same instant.
	ExpiryFixed    bool
	IdempotencyKey string
	// IdempotencyScope is the key space IdempotencyKey is looked up in.
	IdempotencyScope IdempotencyScope
	// Actor is who asked for the message (api:<request id>, ...), recorded on
	// its message.created event. It travels with the message, not the call,
	// so that requests coalesced into one insert keep their own request ids.
	Actor string

	// SMS-native fields (issue 10, parts 1-3); see Message. Validate fills
	// them; a NewMessage built by hand may leave them zero.
	Encoding Encoding
	Segments int
	Country  string
	TimeZone string
	// QuietHoursOptOut is the create's "quiet_hours": false. The zero value
	// honours quiet hours, so a message built without it is held like any.
	QuietHoursOptOut bool
	// Deferral is what quiet hours decided at create: nothing, hold until
	// a window's end, or expire at once (see QuietHours.Defer).
	Deferral Deferral

	// CallbackURL is the message's status-callback URL (CheckCallbackURL);
	// "" uses STATUS_CALLBACK_URL.
	CallbackURL string
}

// WithActor returns msgs with actor set on every message that has none.
func WithActor(actor string, msgs []NewMessage) []NewMessage {
	out := make([]NewMessage, len(msgs))
	for i, nm := range msgs {
		if nm.Actor == "" {
			nm.Actor = actor
		}
		out[i] = nm
	}
	return out
}

// CreateResult tells what CreateMessages did for one NewMessage.
type CreateResult struct {
	Message Message
	// Created is false when an earlier message with the same idempotency key
	// was returned instead of creating a new one.
	Created bool
}

// Attempt is one webhook call for a message.
type Attempt struct {
	ID         int64  `json:"id"`
	MessageID  string `json:"message_id"`
	Number     int    `json:"number"`
	StatusCode int    `json:"status_code,omitempty"`
	// Latency is stored in whole nanoseconds on every store: the unit of
	// time.Duration and of latency_ns, so the API shows what was measured.
	Latency time.Duration `json:"latency_ns"`
	Error   string        `json:"error,omitempty"`
	// Response is a bounded snippet of the webhook's answer body.
	Response  string    `json:"response,omitempty"`
	Outcome   Status    `json:"outcome"`
	CreatedAt time.Time `json:"created_at"`
}

// MessageFilter selects messages for listing. Lists are newest first.
type MessageFilter struct {
	Status   Status   // empty = all
	Priority Priority // empty = all
	// Delivery filters by delivery status when DeliverySet (DeliveryNone
	// is "no report applied"); see ParseDeliveryFilter.
	Delivery    DeliveryStatus
	DeliverySet bool
	// PhoneNumber, when set, is an exact match on the recipient; it must
	// have the E.164 shape (ValidPhoneShape).
	PhoneNumber string
	// Before is the cursor: only messages with an ID below it are returned.
	Before string
	Limit  int
}

// MessagePage is one page of a list plus the cursor of the next page ("" at the end).
type MessagePage struct {
	Messages   []Message `json:"messages"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// Claim identifies one claimed delivery: the fencing token for recording its outcome.
type Claim struct {
	MessageID string `json:"message_id"`
	Attempt   int    `json:"attempt"`
	// LeaseUntil, when set, is the lease deadline the claim was handed over
	// with (RabbitMQ mode). CheckClaims and RenewClaims then only succeed
	// while the deadline is unchanged, so the first consumer to renew a
	// redelivered entry wins and a second copy of it is dropped instead of
	// delivered a second time at once.
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

// Claim returns the claim that the current attempt of m holds.
func (m Message) Claim() Claim { return Claim{MessageID: m.ID, Attempt: m.Attempts} }

// HandOver returns the claim with its lease deadline, for a queue entry.
func (m Message) HandOver() Claim {
	return Claim{MessageID: m.ID, Attempt: m.Attempts, LeaseUntil: m.NextAttemptAt}
}
