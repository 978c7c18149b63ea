// Package storetest is the one behaviour suite of the ims.Store contract. Every
// store (postgres, sqlite) runs it, so they cannot drift apart.
package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// Opener returns a fresh, migrated, empty store whose clock is now. It must
// register its own cleanup (Close, dropping a database) with t.Cleanup.
type Opener func(t *testing.T, now ims.Clock) ims.Store

// Run runs the whole suite against the stores open returns. Every subtest
// opens its own store and runs in parallel with the others.
func Run(t *testing.T, open func(t *testing.T, now ims.Clock) ims.Store) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"Create", testCreate},
		{"Get", testGet},
		{"List", testList},
		{"Cancel", testCancel},
		{"Claim", testClaim},
		{"RecordOutcomes", testRecordOutcomes},
		{"RenewClaims", testRenewClaims},
		{"RenewHandedOverClaim", testRenewHandedOverClaim},
		{"CheckClaims", testCheckClaims},
		{"ReleaseClaims", testReleaseClaims},
		{"Replay", testReplay},
		{"Priority", testPriority},
		{"Expiry", testExpiry},
		{"LifecycleAgreement", testLifecycleAgreement},
		{"CountByStatus", testCountByStatus},
		{"ConcurrentReads", testConcurrentReads},
		{"Audit", testAudit},
		{"AuditLimit", testAuditLimit},
		{"AuditTrail", testAuditTrail},
		{"SchedulerState", testSchedulerState},
		{"SchedulerStateVersion", testSchedulerStateVersion},
		{"ClaimWhileStopped", testClaimWhileStopped},
		{"RenewWhileStopped", testRenewWhileStopped},
		{"PurgeMessages", testPurgeMessages},
		{"PurgeAudit", testPurgeAudit},
		{"Leadership", testLeadership},
		{"Waker", testWaker},
		{"Ping", testPing},
		{"ProviderState", testProviderState},
		{"SMS", testSMS},
		{"DeliveryReports", testDeliveryReports},
		{"Callbacks", testCallbacks},
		{"Instances", testInstances},
		{"PhoneFilter", testPhoneFilter},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, open)
		})
	}
}

// Test values shared by the suite.
const (
	actor = "test:actor"
	phone = "+905551234567"
	lease = 30 * time.Second
)

// fixture is what each subtest works with: its own store and clock.
type fixture struct {
	s     ims.Store
	clock *Clock
	ctx   context.Context
	seq   atomic.Int64
}

// setup opens a store whose scheduler state is running, so that claims
// claim (ClaimDue claims nothing while the stored state is stopped).
// Storing it writes no audit event.
func setup(t *testing.T, open Opener) *fixture {
	t.Helper()
	f := setupBare(t, open)
	_, err := f.s.InitSchedulerState(f.ctx, true, "test:setup")
	require.NoError(t, err)
	return f
}

// setupBare opens a store with nothing stored, not even the scheduler state.
func setupBare(t *testing.T, open Opener) *fixture {
	t.Helper()
	clock := NewClock(start)
	s := open(t, clock.Now)
	require.NotNil(t, s, "open returned a nil store")
	return &fixture{s: s, clock: clock, ctx: t.Context()}
}

// now is the clock's time as a store keeps it: UTC, microsecond precision.
func (f *fixture) now() time.Time { return micro(f.clock.Now()) }

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// newMsg returns a distinct, valid NewMessage.
func (f *fixture) newMsg() ims.NewMessage {
	return ims.NewMessage{PhoneNumber: phone, Content: fmt.Sprintf("hello %d", f.seq.Add(1))}
}

// create stores one message and returns it.
func (f *fixture) create(t *testing.T, nm ims.NewMessage) ims.Message {
	t.Helper()
	res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{nm}))
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.True(t, res[0].Created)
	return res[0].Message
}

// createN stores n messages in one batch and returns them in order.
func (f *fixture) createN(t *testing.T, n int) []ims.Message {
	t.Helper()
	nms := make([]ims.NewMessage, n)
	for i := range nms {
		nms[i] = f.newMsg()
	}
	res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, nms))
	require.NoError(t, err)
	require.Len(t, res, n)
	msgs := make([]ims.Message, n)
	for i, r := range res {
		require.True(t, r.Created)
		msgs[i] = r.Message
	}
	return msgs
}

// claim claims up to limit messages with the suite's lease.
func (f *fixture) claim(t *testing.T, limit int) []ims.Message {
	t.Helper()
	got, err := f.s.ClaimDue(f.ctx, ims.ClaimParams{Limit: limit, Lease: lease, Actor: actor})
	require.NoError(t, err)
	return got
}

// claimOne creates a message that is due before any other (its send_at lies
// far in the past) and claims it, so it works whatever else is pending.
func (f *fixture) claimOne(t *testing.T) ims.Message {
	t.Helper()
	nm := f.newMsg()
	past := f.clock.Now().Add(-365*24*time.Hour - time.Duration(f.seq.Add(1))*time.Second)
	nm.SendAt = &past
	m := f.create(t, nm)
	got := f.claim(t, 1)
	require.Len(t, got, 1)
	require.Equal(t, m.ID, got[0].ID, "claimOne: another message was due first")
	return got[0]
}

// inState returns a new message moved to status through the store's own API.
func (f *fixture) inState(t *testing.T, status ims.Status) ims.Message {
	t.Helper()
	switch status {
	case ims.StatusPending:
		return f.create(t, f.newMsg())
	case ims.StatusCanceled:
		m, err := f.s.CancelMessage(f.ctx, f.create(t, f.newMsg()).ID, actor)
		require.NoError(t, err)
		return m
	case ims.StatusSending:
		return f.claimOne(t)
	case ims.StatusSent, ims.StatusDead:
		m := f.claimOne(t)
		f.record(t, outcome(m, status, f.clock.Now()))
		got, err := f.s.GetMessage(f.ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, status, got.Status)
		return got
	}
	t.Fatalf("inState: unknown status %q", status)
	return ims.Message{}
}

func (f *fixture) record(t *testing.T, outcomes ...ims.Outcome) {
	t.Helper()
	require.NoError(t, f.s.RecordOutcomes(f.ctx, outcomes, actor))
}

// outcome builds a typical outcome leading m's current claim to status.
func outcome(m ims.Message, status ims.Status, at time.Time) ims.Outcome {
	o := ims.Outcome{Claim: m.Claim(), At: at, Decision: ims.Decision{Status: status}}
	switch status {
	case ims.StatusSent:
		o.Result = ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-" + m.ID, Latency: 15250 * time.Microsecond, Response: `{"message":"Accepted"}`}
		o.Decision.Reason = "delivered"
	case ims.StatusPending:
		o.Result = ims.DeliveryResult{StatusCode: 503, Latency: 2 * time.Millisecond, Response: "busy"}
		o.Decision.NextAttemptAt = at.Add(5 * time.Minute)
		o.Decision.Reason = "retry scheduled: " + o.Result.ErrorText()
	case ims.StatusDead:
		o.Result = ims.DeliveryResult{Err: "dial tcp 127.0.0.1:9: connection refused", Latency: time.Millisecond}
		o.Decision.Reason = "permanent failure: " + o.Result.ErrorText()
	}
	return o
}

func (f *fixture) get(t *testing.T, id string) ims.Message {
	t.Helper()
	m, err := f.s.GetMessage(f.ctx, id)
	require.NoError(t, err)
	return m
}

// events lists every audit event matching filter, newest first.
func (f *fixture) events(t *testing.T, filter ims.AuditFilter) []ims.AuditEvent {
	t.Helper()
	filter.Limit = 1000
	page, err := f.s.ListAudit(f.ctx, filter)
	require.NoError(t, err)
	return page.Events
}

// requireTime checks that got is the instant want, in UTC.
func requireTime(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.Truef(t, want.Equal(got), "time: want %s, got %s %v", want, got, msgAndArgs)
	require.Equal(t, time.UTC, got.Location(), "times must be returned in UTC")
}

func requireCode(t *testing.T, code string, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, ims.ErrorCode(err), "error: %v", err)
}

func ids(msgs []ims.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func requireUUID(t *testing.T, id string) {
	t.Helper()
	u, err := uuid.Parse(id)
	require.NoError(t, err, "message IDs must be UUIDs")
	require.Equal(t, uuid.Version(7), u.Version(), "message IDs must be UUIDv7")
}
