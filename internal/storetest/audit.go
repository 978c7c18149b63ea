package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func testAudit(t *testing.T, open Opener) {
	f := setup(t, open)
	t0 := f.now()
	m := f.create(t, f.newMsg()) // message.created at t0
	f.clock.Advance(3 * time.Minute)
	require.NoError(t, f.s.AppendAudit(f.ctx, []ims.AuditEvent{
		{Type: ims.EventSystemStarted, Actor: "system", CreatedAt: t0.Add(time.Minute)},
		{Type: ims.EventMessageSent, MessageID: m.ID, Actor: "worker:1", Details: "delivered", CreatedAt: t0.Add(2 * time.Minute)},
		{Type: ims.EventSystemStopped, Actor: "system"}, // zero time: now
	}))
	require.NoError(t, f.s.AppendAudit(f.ctx, nil))

	all := f.events(t, ims.AuditFilter{})
	require.Len(t, all, 4)
	types := make([]string, len(all))
	for i, e := range all {
		types[i] = e.Type
		require.NotZero(t, e.ID)
		if i > 0 {
			require.Less(t, e.ID, all[i-1].ID, "newest first by ID")
		}
	}
	require.Equal(t, []string{ims.EventSystemStopped, ims.EventMessageSent, ims.EventSystemStarted, ims.EventMessageCreated}, types)
	stopped, sent, started, created := all[0], all[1], all[2], all[3]
	requireTime(t, f.now(), stopped.CreatedAt, "zero created_at means now")
	requireTime(t, t0.Add(2*time.Minute), sent.CreatedAt)
	require.Equal(t, m.ID, sent.MessageID)
	require.Equal(t, "worker:1", sent.Actor)
	require.Equal(t, "delivered", sent.Details)
	require.Empty(t, started.MessageID)

	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			name   string
			filter ims.AuditFilter
			want   []ims.AuditEvent
		}{
			{"type", ims.AuditFilter{Type: ims.EventMessageSent}, []ims.AuditEvent{sent}},
			{"message", ims.AuditFilter{MessageID: m.ID}, []ims.AuditEvent{sent, created}},
			{"since inclusive", ims.AuditFilter{Since: t0.Add(time.Minute)}, []ims.AuditEvent{stopped, sent, started}},
			{"until exclusive", ims.AuditFilter{Until: t0.Add(2 * time.Minute)}, []ims.AuditEvent{started, created}},
			{"range", ims.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(2 * time.Minute)}, []ims.AuditEvent{started}},
			{"type and message", ims.AuditFilter{Type: ims.EventMessageCreated, MessageID: m.ID}, []ims.AuditEvent{created}},
			{"no match", ims.AuditFilter{Type: "nope"}, []ims.AuditEvent{}},
			{"before cursor", ims.AuditFilter{Before: sent.ID}, []ims.AuditEvent{started, created}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := f.events(t, tt.filter)
				require.Equal(t, tt.want, append([]ims.AuditEvent{}, got...))
			})
		}
	})
	t.Run("cursor pagination", func(t *testing.T) {
		page, err := f.s.ListAudit(f.ctx, ims.AuditFilter{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []ims.AuditEvent{stopped, sent}, page.Events)
		require.Equal(t, strconv.FormatInt(sent.ID, 10), page.NextCursor)

		page, err = f.s.ListAudit(f.ctx, ims.AuditFilter{Limit: 2, Before: sent.ID})
		require.NoError(t, err)
		require.Equal(t, []ims.AuditEvent{started, created}, page.Events)
		require.Equal(t, strconv.FormatInt(created.ID, 10), page.NextCursor, "a full page has a cursor")

		page, err = f.s.ListAudit(f.ctx, ims.AuditFilter{Limit: 2, Before: created.ID})
		require.NoError(t, err)
		require.Empty(t, page.Events)
		require.Empty(t, page.NextCursor)
	})
}

func testAuditLimit(t *testing.T, open Opener) {
	f := setup(t, open)
	evs := make([]ims.AuditEvent, 1001)
	for i := range evs {
		evs[i] = ims.AuditEvent{Type: ims.EventSystemStarted, Actor: "system"}
	}
	require.NoError(t, f.s.AppendAudit(f.ctx, evs))
	tests := []struct{ limit, want int }{{0, 50}, {-1, 50}, {7, 7}, {5000, 1000}}
	for _, tt := range tests {
		page, err := f.s.ListAudit(f.ctx, ims.AuditFilter{Limit: tt.limit})
		require.NoError(t, err)
		require.Len(t, page.Events, tt.want, "limit %d", tt.limit)
	}
}
