package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/insiderone/ims"
)

// idempotencyKeyHeader makes a create safe to retry.
const idempotencyKeyHeader = "Idempotency-Key"

// NewMessage is the body of a create. ims.MessageInput has the same JSON but
// pointer fields, which the server needs to tell "missing" from "empty" and a
// client never does.
type NewMessage struct {
	PhoneNumber string `json:"phone_number"` // E.164, e.g. +905551234567
	Content     string `json:"content"`
	// SendAt, when set, delays the first delivery until then.
	SendAt *time.Time `json:"send_at,omitempty"`
	// Priority is ims.PriorityHigh, PriorityNormal or PriorityLow; "" is
	// normal.
	Priority ims.Priority `json:"priority,omitempty"`
	// TTLSeconds or ExpiresAt (never both) give the expiry: a message not
	// sent by then is expired, never sent. Neither: the server's MESSAGE_TTL.
	TTLSeconds int64      `json:"ttl_seconds,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`

	// CallbackURL, when set, receives this message's status callbacks
	// instead of the server's STATUS_CALLBACK_URL (http or https).
	CallbackURL string `json:"callback_url,omitempty"`

	// QuietHoursOptOut sends "quiet_hours": false: the message ignores the
	// server's QUIET_HOURS. (A bool rather than a pointer: honouring them
	// is the default, so only the opt-out needs saying.)
	QuietHoursOptOut bool `json:"-"`
}

// MarshalJSON writes QuietHoursOptOut as the API's "quiet_hours": false.
func (n NewMessage) MarshalJSON() ([]byte, error) {
	type plain NewMessage // no methods: no recursion
	out := struct {
		plain
		QuietHours *bool `json:"quiet_hours,omitempty"`
	}{plain: plain(n)}
	if n.QuietHoursOptOut {
		f := false
		out.QuietHours = &f
	}
	return json.Marshal(out)
}

// NewExpiry is a new expiry for a replay (ReplayMessageWithExpiry): a TTL
// counted from the replay, or an instant, never both.
type NewExpiry struct {
	TTLSeconds int64      `json:"ttl_seconds,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// BatchResult is the answer of POST /api/messages/batch.
type BatchResult struct {
	// Messages are in the order they were sent in.
	Messages []ims.Message `json:"messages"`
	// Created counts the messages this call created; the others were
	// returned from an earlier call with the same idempotency key.
	Created int `json:"created"`
}

// MessageDetail is the answer of GET /api/messages/{id}.
type MessageDetail struct {
	Message ims.Message `json:"message"`
	// Attempts are the webhook calls made for the message, oldest first.
	Attempts []ims.Attempt `json:"attempts"`
	Cache    CacheEntry    `json:"cache"`
}

// CacheEntry is what the sent-cache (Redis) knows about a message.
type CacheEntry struct {
	// Enabled is false when the service runs without Redis.
	Enabled bool `json:"enabled"`
	// Cached is true when the cache holds the message's send.
	Cached            bool       `json:"cached"`
	ProviderMessageID string     `json:"provider_message_id,omitempty"`
	SentAt            *time.Time `json:"sent_at,omitempty"`
	// Error says why the cache could not be asked; the rest of the answer
	// is still good.
	Error string `json:"error,omitempty"`
}

// MessageFilter selects messages for a list. The cursor is the NextCursor of
// the previous page; the iterators follow it for you.
type MessageFilter struct {
	Status ims.Status // empty = every status; ignored by ListSent and ListDeadLetters
	// Priority is empty for every priority.
	Priority ims.Priority
	Limit    int // page size; 0 = the server's default (50), at most 1000
	Cursor   string
	// DeliveryStatus is "delivered", "undelivered", "none" (no report
	// yet) or empty for every message.
	DeliveryStatus string
	// PhoneNumber, in E.164 form, keeps only the messages to that number
	// (exact match); empty for every number. ListMessages only: like
	// Status, ListSent and ListDeadLetters ignore it.
	PhoneNumber string
}

func (f MessageFilter) query(withStatus bool) url.Values {
	q := url.Values{}
	if withStatus && f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if withStatus && f.PhoneNumber != "" {
		q.Set("phone_number", f.PhoneNumber)
	}
	if f.Priority != "" {
		q.Set("priority", string(f.Priority))
	}
	if f.DeliveryStatus != "" {
		q.Set("delivery_status", f.DeliveryStatus)
	}
	setPage(q, f.Limit, f.Cursor)
	return q
}

func setPage(q url.Values, limit int, cursor string) {
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
}

// CreateMessage creates one message. With a non-empty idempotencyKey a retry
// of the same request is safe: the server returns the message the first call
// created, and the result's Created is false. The same key with another phone
// number or content is an ECONFLICT error.
func (c *Client) CreateMessage(ctx context.Context, m NewMessage, idempotencyKey string) (ims.CreateResult, error) {
	var out ims.Message
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/api/messages", body: m,
		header: idempotencyHeader(idempotencyKey)}, &out)
	if err != nil {
		return ims.CreateResult{}, err
	}
	// 201 creates, 200 replays (with Idempotent-Replayed: true).
	return ims.CreateResult{Message: out, Created: resp.status == http.StatusCreated}, nil
}

// CreateBatch creates up to 1000 messages in one transaction: all of them, or
// none and an EINVALID error whose details name each bad field as
// "messages[i].field". An idempotencyKey makes the whole batch safe to retry.
func (c *Client) CreateBatch(ctx context.Context, msgs []NewMessage, idempotencyKey string) (BatchResult, error) {
	body := struct {
		Messages []NewMessage `json:"messages"`
	}{Messages: msgs}
	if body.Messages == nil {
		body.Messages = []NewMessage{} // let the server say it is empty, not null
	}
	var out BatchResult
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/messages/batch", body: body,
		header: idempotencyHeader(idempotencyKey)}, &out)
	return out, err
}

func idempotencyHeader(key string) http.Header {
	if key == "" {
		return nil
	}
	return http.Header{idempotencyKeyHeader: {key}}
}

// ListMessages returns one page of messages, newest first.
func (c *Client) ListMessages(ctx context.Context, f MessageFilter) (ims.MessagePage, error) {
	return c.listMessages(ctx, "/api/messages", f.query(true))
}

// ListSent returns one page of sent messages, newest first.
func (c *Client) ListSent(ctx context.Context, f MessageFilter) (ims.MessagePage, error) {
	return c.listMessages(ctx, "/api/messages/sent", f.query(false))
}

// ListDeadLetters returns one page of dead-lettered messages, newest first;
// each has the LastError that killed it.
func (c *Client) ListDeadLetters(ctx context.Context, f MessageFilter) (ims.MessagePage, error) {
	return c.listMessages(ctx, "/api/messages/dead-letter", f.query(false))
}

func (c *Client) listMessages(ctx context.Context, path string, q url.Values) (ims.MessagePage, error) {
	var page ims.MessagePage
	_, err := c.do(ctx, call{method: http.MethodGet, path: path, query: q}, &page)
	return page, err
}

// GetMessage returns one message with its delivery attempts and what the
// sent-cache holds for it.
func (c *Client) GetMessage(ctx context.Context, id string) (MessageDetail, error) {
	path, err := messagePath(id, "")
	if err != nil {
		return MessageDetail{}, err
	}
	var out MessageDetail
	_, err = c.do(ctx, call{method: http.MethodGet, path: path}, &out)
	return out, err
}

// CancelMessage cancels a pending message and returns it: ENOTFOUND, or
// ECONFLICT when it is no longer pending.
func (c *Client) CancelMessage(ctx context.Context, id string) (ims.Message, error) {
	return c.messageAction(ctx, http.MethodDelete, id, "")
}

// ReplayMessage sends a dead-lettered message back to pending, due now, and
// returns it: ENOTFOUND, or ECONFLICT when it is not dead (an expired
// message needs ReplayMessageWithExpiry).
func (c *Client) ReplayMessage(ctx context.Context, id string) (ims.Message, error) {
	return c.messageAction(ctx, http.MethodPost, id, "/retry")
}

// ReplayMessageWithExpiry sends a dead or expired message back to pending,
// due now, with a new expiry: EINVALID when the expiry is not ahead,
// ECONFLICT when the message is neither dead nor expired.
func (c *Client) ReplayMessageWithExpiry(ctx context.Context, id string, exp NewExpiry) (ims.Message, error) {
	path, err := messagePath(id, "/retry")
	if err != nil {
		return ims.Message{}, err
	}
	var out ims.Message
	_, err = c.do(ctx, call{method: http.MethodPost, path: path, body: exp}, &out)
	return out, err
}

func (c *Client) messageAction(ctx context.Context, method, id, suffix string) (ims.Message, error) {
	path, err := messagePath(id, suffix)
	if err != nil {
		return ims.Message{}, err
	}
	var out ims.Message
	_, err = c.do(ctx, call{method: method, path: path}, &out)
	return out, err
}

// messagePath is /api/messages/{id}{suffix}. The id is escaped, and the
// dot segments, which no URL can carry as a path element, are refused here
// as the server would refuse them: no such message.
func messagePath(id, suffix string) (string, error) {
	switch id {
	case "":
		return "", ims.Errorf(ims.EINVALID, "a message id is required")
	case ".", "..":
		return "", ims.Errorf(ims.ENOTFOUND, "message %q not found", id)
	}
	return "/api/messages/" + url.PathEscape(id) + suffix, nil
}

// ReplayDeadLetters replays up to limit dead-lettered messages, oldest first,
// and returns how many it replayed. A limit of 0 is the server's cap (1000).
func (c *Client) ReplayDeadLetters(ctx context.Context, limit int) (int, error) {
	q := url.Values{}
	setPage(q, limit, "")
	var out struct {
		Replayed int `json:"replayed"`
	}
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/messages/dead-letter/retry", query: q}, &out)
	return out.Replayed, err
}
