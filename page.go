package ims

import "strconv"

// Page sizes of every list (messages, audit events).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
)

// PageLimit applies the list rules to a requested limit: the default for
// none (or a nonsense one), the cap for too many.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageLimit
	case n > MaxPageLimit:
		return MaxPageLimit
	}
	return n
}

// NewMessagePage builds a page of messages fetched with limit: a full page
// has a next cursor (the last ID; lists are newest first), a short one ends
// the list. It never returns a nil slice, so the JSON is [] rather than null.
func NewMessagePage(msgs []Message, limit int) MessagePage {
	page := MessagePage{Messages: msgs}
	if page.Messages == nil {
		page.Messages = []Message{}
	}
	if len(msgs) > 0 && len(msgs) == limit {
		page.NextCursor = msgs[len(msgs)-1].ID
	}
	return page
}

// NewAuditPage is NewMessagePage for audit events.
func NewAuditPage(events []AuditEvent, limit int) AuditPage {
	page := AuditPage{Events: events}
	if page.Events == nil {
		page.Events = []AuditEvent{}
	}
	if len(events) > 0 && len(events) == limit {
		page.NextCursor = strconv.FormatInt(events[len(events)-1].ID, 10)
	}
	return page
}
