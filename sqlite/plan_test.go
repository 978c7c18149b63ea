package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// TestQueryPlans guards the indexes that keep the hot queries cheap with
// millions of final messages: a plan change would not fail any behaviour test.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(t.Context()))

	tests := []struct {
		name, query, index string
		args               []any
	}{
		{"claim uses the due index", claimDueSQL, "messages_due", []any{0, 10}},
		{"the claim's update finds its rows by rowid", claimUpdateSQL, "USING INTEGER PRIMARY KEY (rowid=?)", []any{"sending", 0, 0, "[1]"}},
		{"the claim's attempt rows find their messages by rowid", claimAttemptsSQL, "USING INTEGER PRIMARY KEY (rowid=?)", []any{"in_flight", 0, "a", "[1]"}},
		{"expiry sweep uses the expiry index", pickExpiredSQL, "messages_expiry", []any{0, 10}},
		{"list by priority", `SELECT id FROM messages WHERE priority = ? AND ` + priorityNotNormal + ` AND id < ? ORDER BY id DESC LIMIT ?`,
			"messages_priority_id", []any{0, "z", 10}},
		{"list the default priority by id", `SELECT id FROM messages WHERE priority = ? AND id < ? ORDER BY id DESC LIMIT ?`,
			"sqlite_autoindex_messages_1", []any{1, "z", 10}},
		{"list by phone", `SELECT id FROM messages WHERE phone_number = ? AND id < ? ORDER BY id DESC LIMIT ?`,
			"messages_phone_number_id", []any{"+905551234567", "z", 10}},
		{"bulk replay walks dead messages by id", pickDeadSQL, "messages_status_id", []any{10}},
		{"the sent purge walks the status index by id", purgeQuery(ims.StatusSent), "messages_status_id", purgeArgs(ims.StatusSent)},
		{"the dead purge reads its age index", purgeQuery(ims.StatusDead), "messages_dead_age", purgeArgs(ims.StatusDead)},
		{"list by status", `SELECT id FROM messages WHERE status = ? AND id < ? ORDER BY id DESC LIMIT ?`,
			"messages_status_id", []any{"sent", "z", 10}},
		{"audit by message", `SELECT id FROM audit_events WHERE message_id = ? ORDER BY id DESC LIMIT ?`,
			"audit_events_message", []any{"x", 10}},
		{"audit by a rare type", `SELECT id FROM audit_events WHERE type = ? AND ` + auditTypeIndexed + ` ORDER BY id DESC LIMIT ?`,
			"audit_events_type", []any{"message.dead", 10}},
		{"audit by a per-delivery type walks the primary key", `SELECT id FROM audit_events WHERE type = ? ORDER BY id DESC LIMIT ?`,
			"SCAN audit_events", []any{"message.sent", 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := queryPlan(t, s.read, tt.query, tt.args...)
			joined := strings.Join(plan, "; ")
			require.Contains(t, joined, tt.index, joined)
			require.NotContains(t, joined, "TEMP B-TREE", "no sort step: %s", joined)
		})
	}
}

// TestAuditQueryPlans guards the audit list (auditQuery) for every shape of
// filter: each branch of the union — stored events, the claimed and the
// sent events of attempt rows — walks an index in id order and stops at the
// page; no branch sorts or scans a table in another order. ("SCAN a" is
// the walk of the attempts' rowid B-tree, newest first, that the branch's
// LIMIT stops.)
func TestAuditQueryPlans(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(t.Context()))
	id := "0190a000-0000-7000-8000-000000000001"
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		filter  ims.AuditFilter
		indexes []string
	}{
		{"everything", ims.AuditFilter{}, []string{"SCAN audit_events", "SCAN a"}},
		{"claimed", ims.AuditFilter{Type: ims.EventMessageClaimed}, []string{"audit_events_type", "SCAN a"}},
		{"sent", ims.AuditFilter{Type: ims.EventMessageSent}, []string{"audit_events_type", "SCAN a"}},
		{"a rare type", ims.AuditFilter{Type: ims.EventMessageDead}, []string{"audit_events_type"}},
		{"created", ims.AuditFilter{Type: ims.EventMessageCreated}, []string{"SCAN audit_events"}},
		{"one message", ims.AuditFilter{MessageID: id}, []string{"audit_events_message", "delivery_attempts_message"}},
		{"one message's sent", ims.AuditFilter{MessageID: id, Type: ims.EventMessageSent}, []string{"delivery_attempts_message"}},
		{"since", ims.AuditFilter{Since: at}, []string{"SCAN a"}},
		{"until", ims.AuditFilter{Until: at}, []string{"SCAN a"}},
		{"before", ims.AuditFilter{Before: 1000}, []string{"SEARCH audit_events USING INTEGER PRIMARY KEY", "SEARCH a USING INTEGER PRIMARY KEY"}},
		{"every filter", ims.AuditFilter{Type: ims.EventMessageClaimed, MessageID: id, Since: at, Until: at.Add(time.Hour), Before: 1000},
			[]string{"delivery_attempts_message"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, args := auditQuery(tt.filter, 50)
			plan := queryPlan(t, s.read, q, args...)
			// The one sort allowed is the merge of the branches' pages
			// (at most three pages of rows), the plan's last step.
			if n := len(plan); n > 1 && plan[n-1] == "USE TEMP B-TREE FOR ORDER BY" {
				plan = plan[:n-1]
			}
			joined := strings.Join(plan, "; ")
			for _, index := range tt.indexes {
				require.Contains(t, joined, index, joined)
			}
			require.NotContains(t, joined, "TEMP B-TREE", "no branch sorts: %s", joined)
		})
	}
}

// queryPlan is the detail column of query's EXPLAIN QUERY PLAN, step by step.
func queryPlan(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	defer func() { require.NoError(t, rows.Close()) }()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return plan
}

// purgeQuery and purgeArgs are pickPurgeSQL's two results, for the table.
func purgeQuery(st ims.Status) string {
	q, _ := pickPurgeSQL(st, time.Now(), 10)
	return q
}

func purgeArgs(st ims.Status) []any {
	_, args := pickPurgeSQL(st, time.Now(), 10)
	return args
}
