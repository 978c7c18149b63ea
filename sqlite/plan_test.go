package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
		{"expiry sweep uses the expiry index", pickExpiredSQL, "messages_expiry", []any{0, 10}},
		{"list by priority", `SELECT id FROM messages WHERE priority = ? AND ` + priorityNotNormal + ` AND id < ? ORDER BY id DESC LIMIT ?`,
			"messages_priority_id", []any{0, "z", 10}},
		{"list the default priority by id", `SELECT id FROM messages WHERE priority = ? AND id < ? ORDER BY id DESC LIMIT ?`,
			"sqlite_autoindex_messages_1", []any{1, "z", 10}},
		{"list by phone", `SELECT id FROM messages WHERE phone_number = ? AND id < ? ORDER BY id DESC LIMIT ?`,
			"messages_phone_number_id", []any{"+905551234567", "z", 10}},
		{"bulk replay walks dead messages by id", pickDeadSQL, "messages_status_id", []any{10}},
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
			rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			joined := strings.Join(plan, "; ")
			require.Contains(t, joined, tt.index, joined)
			require.NotContains(t, joined, "TEMP B-TREE", "no sort step: %s", joined)
		})
	}
}
