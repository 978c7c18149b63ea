package ims

import (
	"context"
	"time"
)

// Store is everything IMS keeps. PostgreSQL (postgres.Store) and SQLite
// (sqlite.Store) implement it; storetest holds the one behaviour suite both pass.
//
// Every write that changes a message also writes its audit event, in the same
// transaction, so the trail can never disagree with the data.
type Store interface {
	MessageStore
	DeliveryStore
	AuditStore
	ControlStore
	ProviderStore
	RetentionStore
	ExpiryStore
	DeliveryReportStore
	CallbackStore
	InstanceStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// MessageStore is the API's side of the store.
type MessageStore interface {
	// CreateMessages inserts msgs and their message.created events in one
	// transaction (all or nothing). A message whose IdempotencyKey already
	// exists is not inserted: the earlier message is returned with
	// Created=false, or an ECONFLICT error if it was for another phone/content.
	CreateMessages(ctx context.Context, msgs []NewMessage) ([]CreateResult, error)
	// GetMessage returns one message or ENOTFOUND.
	GetMessage(ctx context.Context, id string) (Message, error)
	// ListMessages returns a page of messages; a filter that does not
	// Validate is EINVALID.
	ListMessages(ctx context.Context, f MessageFilter) (MessagePage, error)
	// ListAttempts returns a message's delivery attempts, oldest first.
	ListAttempts(ctx context.Context, messageID string) ([]Attempt, error)
	// CancelMessage moves a pending message to canceled: ENOTFOUND, or
	// ECONFLICT when it is not pending.
	CancelMessage(ctx context.Context, id, actor string) (Message, error)
	// ReplayMessage moves a dead message back to pending, due now, with its
	// attempt count reset: ENOTFOUND, or ECONFLICT when it is not dead.
	ReplayMessage(ctx context.Context, id, actor string) (Message, error)
	// ReplayWithExpiry moves a dead or expired message back to pending, due
	// now, with its attempt count reset and expiresAt as its new expiry
	// (TransitionRevive): ENOTFOUND, or ECONFLICT when it is neither. The
	// caller checks that expiresAt lies ahead (ReplayInput).
	ReplayWithExpiry(ctx context.Context, id, actor string, expiresAt time.Time) (Message, error)
	// ReplayDeadLetters replays up to limit dead messages, oldest first, and
	// returns how many it replayed; a limit ≤ 0 means DefaultReplayLimit.
	ReplayDeadLetters(ctx context.Context, actor string, limit int) (int, error)
	// CountByStatus returns how many messages are in each status.
	CountByStatus(ctx context.Context) (map[Status]int64, error)
}

// ExpiryStore is the sweeper's side of the store.
type ExpiryStore interface {
	// ExpireDue moves up to limit messages past their expiry (Expired at
	// the store's now) to expired, each with a message.expired event whose
	// details are ExpiredDecision(why).Reason, and returns how many it
	// moved: pending ones, and sending ones whose lease has run out (a
	// claim still held keeps its message until its outcome). Callers repeat
	// it while it returns limit.
	ExpireDue(ctx context.Context, why ExpiryReason, actor string, limit int) (int, error)
}

// ClaimParams says what to claim.
type ClaimParams struct {
	Limit int
	// Lease is how long the claim holds. Past it the message is due again,
	// so it must outlast the webhook timeout.
	Lease time.Duration
	// Actor is recorded on the message.claimed events.
	Actor string
}

// DeliveryStore is the delivery pipeline's side of the store.
type DeliveryStore interface {
	// ClaimDue atomically moves up to p.Limit due messages (pending with
	// next_attempt_at ≤ now, or sending with an expired lease, and not past
	// their expiry), highest priority first and oldest due first within a
	// priority (CompareClaimOrder), to sending, increments their Attempts and sets their lease. Two
	// concurrent callers never get the same message. It claims nothing
	// unless the stored scheduler state is running, judged in the same
	// statement or transaction: no claim commits after a stop has committed.
	ClaimDue(ctx context.Context, p ClaimParams) ([]Message, error)
	// RenewClaims renews the lease of each claim that is still current (the
	// message is sending with that attempt number) and returns those messages;
	// stale claims are left out. A queue consumer calls it before delivering
	// a message from an entry the queue handed out again (or one whose
	// handed-over lease is short; see CheckClaims), so a late or duplicate
	// hand-over is dropped and the first of two consumers of the same entry
	// wins.
	// Like ClaimDue it renews nothing unless the stored scheduler state is
	// running, judged in the same statement: after a stop has committed no
	// consumer anywhere gets the go-ahead for a delivery. The claims are then
	// left out like stale ones; a caller tells the two apart by the state.
	RenewClaims(ctx context.Context, claims []Claim, lease time.Duration) ([]Message, error)
	// CheckClaims returns the messages of the claims that RenewClaims would
	// renew, in the same order and refused in the same cases (stale, or the
	// stored state not running), and writes nothing: each keeps the lease it
	// was handed over with. A queue consumer calls it for an entry the queue
	// hands out for the first time, whose handed-over lease still covers a
	// delivery (see scheduler's queueHandoff.checkOnly): only a redelivered
	// entry can reach two consumers, and only then does the first one need
	// to move the deadline.
	CheckClaims(ctx context.Context, claims []Claim) ([]Message, error)
	// RecordOutcomes stores a batch of outcomes — message updates, attempt
	// rows and audit events — in one transaction. An outcome whose claim is no
	// longer current (the lease expired and the message was claimed again)
	// still gets its attempt row but does not change the message. A decision
	// that is not an outcome (see OutcomeTransition) is EINVALID and fails
	// the whole batch before anything is written.
	RecordOutcomes(ctx context.Context, outcomes []Outcome, actor string) error
	// ReleaseClaims returns claimed messages to pending, due now, without
	// counting the attempt: used on shutdown and when a hand-over fails.
	ReleaseClaims(ctx context.Context, claims []Claim) error
	// DeferClaims hands claims back because quiet hours hold them
	// (DeferredClaim.Write): each current claim's message goes back to
	// pending, due at the window's end, or to expired when its expiry comes
	// first, with its attempt not counted and its event (actor actor). No
	// webhook call was made, so no attempt row is written. Stale claims are
	// skipped.
	DeferClaims(ctx context.Context, claims []DeferredClaim, actor string) error
}

// AuditStore keeps the audit trail.
type AuditStore interface {
	AppendAudit(ctx context.Context, events []AuditEvent) error
	ListAudit(ctx context.Context, f AuditFilter) (AuditPage, error)
}

// SchedulerState is the stored, fleet-wide state of the scheduler.
type SchedulerState struct {
	Running   bool      `json:"running"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
	// Version goes up by one with every stored change, so states can be
	// ordered whatever the clocks of the instances that wrote them say.
	// 0 means nothing is stored.
	Version int64 `json:"version"`
}

// Supersedes reports whether st may replace applied, the state an instance
// acts on: only a newer version may. A read that started before a change
// committed can return after that change was applied; without this rule it
// would undo the change (a stop undone by a stale running=true).
func (st SchedulerState) Supersedes(applied SchedulerState) bool {
	return st.Version > applied.Version
}

// Leadership is who paces the fleet.
type Leadership struct {
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ControlStore keeps the scheduler state and the leader lease.
type ControlStore interface {
	// InitSchedulerState stores running as the state (version 1) if none is
	// stored yet, and returns the stored state either way.
	InitSchedulerState(ctx context.Context, running bool, actor string) (SchedulerState, error)
	SchedulerState(ctx context.Context) (SchedulerState, error)
	// SetSchedulerRunning stores the state and its audit event, with the
	// version one above the stored one (1 when none is stored).
	SetSchedulerRunning(ctx context.Context, running bool, actor string) (SchedulerState, error)
	// AcquireLeadership takes or renews the leader lease for instance if it
	// is free, expired or already held by instance, and returns the current
	// leadership either way.
	AcquireLeadership(ctx context.Context, instance string, ttl time.Duration) (Leadership, error)
	// ResignLeadership gives the lease up if instance holds it.
	ResignLeadership(ctx context.Context, instance string) error
}

// Waker is implemented by stores that can tell when new work arrives
// (PostgreSQL LISTEN/NOTIFY, an in-process signal for SQLite), so the
// pipeline need not wait for its next poll.
type Waker interface {
	// Wakeups returns a channel that receives after messages become due.
	Wakeups() <-chan struct{}
}
