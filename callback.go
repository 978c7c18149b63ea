package ims

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// CallbackStatuses are the statuses whose arrival sends a status callback
// (besides every applied delivery report). The stores' outbox triggers
// list the same statuses (migration 00009); the storetest suite checks
// each of them, and TestCallbackStatusesAreFinal that they are all final.
var CallbackStatuses = []Status{StatusSent, StatusDead, StatusExpired, StatusCanceled}

// MaxCallbackURLLength bounds a message's callback_url.
const MaxCallbackURLLength = 2048

// CheckCallbackURL returns what is wrong with a callback URL, or "": an
// absolute http or https URL with a host.
func CheckCallbackURL(raw string) string {
	if len(raw) > MaxCallbackURLLength {
		return "must be at most " + itoa(MaxCallbackURLLength) + " bytes"
	}
	if p := CheckText(raw); p != "" {
		return p
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an absolute http or https URL, e.g. https://example.com/ims-status"
	}
	if u.User != nil {
		return "must not carry credentials"
	}
	return ""
}

// CallbackState is where an outbox row is.
type CallbackState string

const (
	CallbackPending   CallbackState = "pending"   // due at NextAttemptAt (or leased until it)
	CallbackDelivered CallbackState = "delivered" // the receiver answered 2xx
	CallbackFailed    CallbackState = "failed"    // given up after STATUS_CALLBACK_MAX_RETRIES
)

// CallbackStates lists every state.
var CallbackStates = []CallbackState{CallbackPending, CallbackDelivered, CallbackFailed}

// Callback is one status callback in the outbox: a snapshot of the message
// taken in the transaction that changed it, so a retry sends what was true
// at the change, not what is true now.
type Callback struct {
	ID                int64
	MessageID         string
	URL               string
	Status            Status
	DeliveryStatus    DeliveryStatus
	ProviderMessageID string
	Error             string
	At                time.Time
	// Attempts counts claims (the current one included); it fences the
	// completion like a message's Attempts.
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
}

// WebhookID is the Standard Webhooks id of the callback: the same on
// every attempt, so a receiver can drop the duplicates at-least-once
// delivery brings.
func (c Callback) WebhookID() string { return "cb_" + strconv.FormatInt(c.ID, 10) }

// CallbackPayload is the JSON body of a status callback.
type CallbackPayload struct {
	MessageID         string `json:"message_id"`
	Status            Status `json:"status"`
	DeliveryStatus    string `json:"delivery_status"`
	ProviderMessageID string `json:"provider_message_id"`
	Error             string `json:"error"`
	At                string `json:"at"`
}

// Payload returns the body sent for c.
func (c Callback) Payload() ([]byte, error) {
	return json.Marshal(CallbackPayload{
		MessageID: c.MessageID, Status: c.Status, DeliveryStatus: string(c.DeliveryStatus),
		ProviderMessageID: c.ProviderMessageID, Error: c.Error, At: c.At.UTC().Format(time.RFC3339Nano),
	})
}

// CallbackResult is the outcome of one callback attempt.
type CallbackResult struct {
	ID      int64
	Attempt int // the claim's Attempts: a stale claim changes nothing
	OK      bool
	Error   string
	// NextAttemptAt is when to try again; zero gives up (CallbackFailed).
	NextAttemptAt time.Time
	At            time.Time
}

// DecideCallback turns an attempt's result into what the outbox records:
// delivered on success; otherwise another try after p's backoff while
// the attempts made stay within p.MaxRetries retries, else given up.
func DecideCallback(p RetryPolicy, c Callback, ok bool, errText string, now time.Time, jitter float64) CallbackResult {
	r := CallbackResult{ID: c.ID, Attempt: c.Attempts, OK: ok, Error: errText, At: now}
	if ok {
		return r
	}
	if c.Attempts <= p.MaxRetries {
		r.NextAttemptAt = now.Add(p.Backoff(c.Attempts, jitter))
	}
	return r
}

// CallbackGivenUpDetails is the audit text of a callback given up.
func CallbackGivenUpDetails(c Callback, errText string) string {
	return "callback " + c.WebhookID() + " (" + string(c.Status) + deliverySuffix(c.DeliveryStatus) + ") to " +
		RedactURL(c.URL) + " given up after " + itoa(c.Attempts) + " attempts: " + errText
}

func deliverySuffix(d DeliveryStatus) string {
	if d == DeliveryNone {
		return ""
	}
	return "/" + string(d)
}

// RedactURL is the one way a configured or stored URL goes into logs,
// errors and audit text: its userinfo (a password, or a token used as the
// user name) is masked, and its query and fragment, where receivers and
// drivers put tokens, are elided. Scheme, host and path stay, so the text
// still says where things go.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// CallbackStore is the status-callback outbox. Rows are written by the
// stores themselves, in the transaction of the change they report; this
// is the dispatcher's side.
type CallbackStore interface {
	// SetStatusCallbackURL stores the fleet-wide default callback URL
	// (STATUS_CALLBACK_URL; "" for none), used for messages without a
	// callback_url of their own. Changes take effect for later changes.
	SetStatusCallbackURL(ctx context.Context, url string) error
	// ClaimCallbacks leases up to limit due pending callbacks, oldest due
	// first, for lease, incrementing their Attempts. Two concurrent
	// callers (any instance) never get the same row.
	ClaimCallbacks(ctx context.Context, limit int, lease time.Duration) ([]Callback, error)
	// CompleteCallbacks records attempt results; a result given up writes
	// a callback.given_up event. Stale results (the row was claimed again)
	// change nothing.
	CompleteCallbacks(ctx context.Context, results []CallbackResult, actor string) error
	// CountCallbacks returns how many outbox rows are pending and how
	// many were given up (failed), through small partial indexes. Delivered
	// rows are not counted: they are most of the table until retention
	// purges them, and the dispatcher counts deliveries as they happen.
	CountCallbacks(ctx context.Context) (map[CallbackState]int64, error)
	// PurgeCallbacks deletes up to limit delivered or failed rows last
	// changed before cutoff.
	PurgeCallbacks(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// validateCallbackURL checks a create's callback_url into nm.
func validateCallbackURL(raw *string, nm *NewMessage, problems map[string]string) {
	if raw == nil || *raw == "" {
		return
	}
	if p := CheckCallbackURL(*raw); p != "" {
		problems["callback_url"] = p
		return
	}
	nm.CallbackURL = *raw
}
