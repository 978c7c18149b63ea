package ims

import (
	"cmp"
	"fmt"
	"time"
)

// Priority orders due messages: claims take the highest priority first,
// the oldest due first within one. The order is strict on purpose (a
// one-time password must not wait behind a marketing batch); low messages
// wait only while higher ones are due.
type Priority string

const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// DefaultPriority is what a create request without "priority" gets.
const DefaultPriority = PriorityNormal

// Priorities lists every priority, highest first.
var Priorities = []Priority{PriorityHigh, PriorityNormal, PriorityLow}

// Rank is the claim order of p, 0 first: stores keep it in an indexed
// column and order claims by (rank, next_attempt_at, id), so the order is
// an integer comparison. An unknown or empty priority ranks as normal.
func (p Priority) Rank() int {
	switch p {
	case PriorityHigh:
		return 0
	case PriorityLow:
		return 2
	}
	return 1
}

// PriorityOfRank is the priority a stored rank stands for (see Rank); an
// unknown rank reads as normal, as Rank writes an unknown priority.
func PriorityOfRank(rank int) Priority {
	switch rank {
	case 0:
		return PriorityHigh
	case 2:
		return PriorityLow
	}
	return PriorityNormal
}

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool { return p == PriorityHigh || p == PriorityNormal || p == PriorityLow }

// ParsePriority reads a priority as the API spells it; "" is the default.
// Only the lower-case names are accepted, as the contract lists them, so
// that filters and stored values have one spelling.
func ParsePriority(s string) (Priority, error) {
	if s == "" {
		return DefaultPriority, nil
	}
	if p := Priority(s); p.Valid() {
		return p, nil
	}
	return "", fmt.Errorf("must be one of: high, normal, low, got %q", s)
}

// ValidatePriority is the create-request hook for MessageInput.Priority: the
// priority to store, or the problem to report under "priority". Absent or
// "" is normal, like an absent send_at.
func ValidatePriority(in *string) (Priority, string) {
	if in == nil {
		return DefaultPriority, ""
	}
	p, err := ParsePriority(*in)
	if err != nil {
		return "", err.Error()
	}
	return p, ""
}

// ClaimKey is what the claim order looks at.
type ClaimKey struct {
	Priority Priority
	Due      time.Time // next_attempt_at
	ID       string    // UUIDv7: ties broken by creation order
}

// CompareClaimOrder orders a before b when a is to be claimed first: by
// Rank, then due time, then ID. Stores do this in SQL; this is the same
// rule for code that orders in memory (a queue, a test of the SQL).
func CompareClaimOrder(a, b ClaimKey) int {
	return cmp.Or(
		cmp.Compare(a.Priority.Rank(), b.Priority.Rank()),
		a.Due.Compare(b.Due),
		cmp.Compare(a.ID, b.ID),
	)
}
