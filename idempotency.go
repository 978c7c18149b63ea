package ims

import "time"

// IdempotencyScope keeps the key spaces of single and batch creates apart:
// a batch item's derived key "<key>#<i>" and a single create's key "<key>#<i>"
// are different keys, because the store looks keys up per scope.
type IdempotencyScope string

const (
	ScopeSingle IdempotencyScope = ""      // POST /api/messages
	ScopeBatch  IdempotencyScope = "batch" // items of POST /api/messages/batch
)

// SameRequest reports whether two create requests that carry one idempotency
// key ask for the same message: the same phone number, the same content and
// the same send_at (the same instant to the microsecond a store keeps, or
// both absent), the same priority, the same expiry and the same quiet-hours opt-out. A replay must match on every field; anything else is an
// ECONFLICT. Both stores decide with this function.
func SameRequest(a, b NewMessage) bool {
	return a.PhoneNumber == b.PhoneNumber && a.Content == b.Content && sameInstant(a.SendAt, b.SendAt) &&
		a.Priority.Rank() == b.Priority.Rank() && sameExpiry(a, b) && a.QuietHoursOptOut == b.QuietHoursOptOut &&
		a.CallbackURL == b.CallbackURL
}

// sameExpiry compares expiries. An absolute expires_at must name the same
// instant. A TTL (ttl_seconds or MESSAGE_TTL) counts from when its request
// was made, so a retry of the same request resolves to a later instant: it
// matches any expiry, and keeps the one the first request fixed. Never
// expiring matches only never expiring.
func sameExpiry(a, b NewMessage) bool {
	if a.ExpiresAt == nil || b.ExpiresAt == nil {
		return a.ExpiresAt == nil && b.ExpiresAt == nil
	}
	return !(a.ExpiryFixed || b.ExpiryFixed) || sameInstant(a.ExpiresAt, b.ExpiresAt)
}

func sameInstant(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// Request is the create request m was stored from, for SameRequest.
func (m Message) Request() NewMessage {
	return NewMessage{PhoneNumber: m.PhoneNumber, Content: m.Content, SendAt: m.SendAt, Priority: m.Priority,
		ExpiresAt: m.ExpiresAt, IdempotencyKey: m.IdempotencyKey, QuietHoursOptOut: !m.QuietHours,
		CallbackURL: m.CallbackURL}
}

// IdempotencyConflict is the error of a key reused for another request.
func IdempotencyConflict() error {
	return Errorf(ECONFLICT, "Idempotency-Key already used for a different message")
}
