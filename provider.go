package ims

import "context"

// ProviderState is the fleet's view of the provider, one stored row: the
// circuit breaker, the rate limiter's bucket, and which message is the
// circuit's probe while it is half open (so that whichever instance holds
// that message may send it, and no other message goes).
type ProviderState struct {
	Circuit Circuit   `json:"circuit"`
	Rate    RateState `json:"rate"`
	ProbeID string    `json:"probe_id,omitempty"`
	// Version goes up by one with every stored change; 0 means nothing is
	// stored yet (a closed circuit, a full bucket).
	Version int64 `json:"version"`
}

// ProviderStore keeps the ProviderState.
type ProviderStore interface {
	// ProviderState reads the stored state; the zero state when none is
	// stored.
	ProviderState(ctx context.Context) (ProviderState, error)
	// UpdateProviderState applies fn to the stored state under an exclusive
	// lock (SELECT ... FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite),
	// so concurrent instances apply their changes one after the other, and
	// stores what fn returns — with Version one above the stored one and
	// fn's audit events, in the same transaction — unless fn returned the
	// state unchanged, in which case nothing is written. It returns the
	// state as stored.
	UpdateProviderState(ctx context.Context, fn func(ProviderState) (ProviderState, []AuditEvent)) (ProviderState, error)
}

// ApplyProviderChange is the rule every store's UpdateProviderState applies
// under its lock: run change on the stored state cur; if the result is the
// same state, nothing is written (the healthy path writes nothing) and its
// events are dropped; otherwise the next state carries the version after
// cur's, for the store's compare-and-swap on cur.Version.
func ApplyProviderChange(cur ProviderState, change func(ProviderState) (ProviderState, []AuditEvent)) (next ProviderState, events []AuditEvent, changed bool) {
	next, events = change(cur)
	next.Version = cur.Version
	if next == cur {
		return cur, nil, false
	}
	next.Version = cur.Version + 1
	return next, events, true
}
