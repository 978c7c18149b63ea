package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/msgid"
)

// TestQueryPlans guards the indexes of the hot statements under a generic
// plan, the one pgx's cached prepared statements end up with: the claim must
// read the partial index messages_due_idx (its status literals must prove
// the index predicate) and the bulk replay must walk messages_status_id_idx
// in id order (the statements' own ORDER BY of their few result rows may
// sort). Sequential scans and sorts are disabled, so a plan that could
// not use the index shows as one that does not. (Checked when the statuses
// came from the domain: with status = ANY($n) instead of the literals, the
// generic claim plan reads messages_status_id_idx and sorts, and the bulk
// replay scans the primary key filtering every row.)
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t)

	conn, err := s.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	for _, set := range []string{"plan_cache_mode = force_generic_plan", "enable_seqscan = off", "enable_sort = off"} {
		_, err := conn.Exec(ctx, "SET "+set)
		require.NoError(t, err)
	}
	// EXECUTE takes its arguments as literals: no parameters reach it.
	now := "'" + time.Now().UTC().Format(time.RFC3339Nano) + "'"
	text := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	claim, replay, expire := ims.TransitionClaim, ims.TransitionReplay, ims.TransitionExpire
	tests := []struct {
		name, query, index string
		args               []string
	}{
		{"claim reads the due index", claimSQL, "messages_due_idx",
			[]string{now, "10", now, "'a'", text(string(claim.To)), text(ims.AttemptInFlight), text(ims.AttemptLeaseExpired),
				"ARRAY[" + now + ", " + now + ", " + now + "]::timestamptz[]"}},
		{"expiry sweep reads the expiry index", expireSQL, "messages_expiry_idx",
			[]string{now, "10", text(string(expire.To)), text(expire.Event), "'x'", "'a'",
				text(ims.AttemptInFlight), text(ims.AttemptLeaseExpired)}},
		{"bulk replay walks dead messages by id", replayDeadSQL, "messages_status_id_idx",
			[]string{now, "'a'", text(s.channel), "10", text(string(replay.To)),
				"ARRAY[" + text(string(replay.From[0])) + "]", text(replay.Event)}},
		{"list by priority reads the partial priority index", "SELECT id FROM messages WHERE priority = $1 AND " +
			priorityNotNormal + " AND id < $2 ORDER BY id DESC LIMIT $3", "messages_priority_id_idx",
			[]string{"0::smallint", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "10"}},
		{"audit by a rare type reads the partial type index", "SELECT id FROM audit_events WHERE type = $1 AND " +
			auditTypeIndexed + " ORDER BY id DESC LIMIT $2", "audit_events_type_idx",
			[]string{"'message.dead'", "10"}},
		{"outcomes find their attempt rows by the message index", recordSQL, "delivery_attempts_message_idx",
			[]string{"'{0190a000-0000-7000-8000-000000000001}'", "'{1}'", "'{sent}'", "ARRAY[" + now + "]::timestamptz[]",
				"'{NULL}'", "'{t}'", "'{202}'", "'{1000}'", "'{\"\"}'", "'{\"\"}'", "'{\"\"}'", "'{p}'", "'{message.sent}'",
				"'{delivered}'", "ARRAY['sending']", "'w'", "'{f}'", "'{t}'", text(ims.AttemptInFlight)}},
		{"the sent purge walks the status index by id, up to the cut's bound", purgeSQL(ims.StatusSent), "messages_status_id_idx",
			[]string{now, "10", text(msgid.Bound(time.Now()))}},
		{"the dead purge reads its age index", purgeSQL(ims.StatusDead), "messages_dead_age_idx", []string{now, "10"}},
		{"list by phone walks message_phones", listByPhone(ims.MessageFilter{}), "message_phones_pkey",
			[]string{"'+905551234567'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "10"}},
		{"list by phone and status walks message_phones", listByPhone(ims.MessageFilter{Status: ims.StatusSent}), "message_phones_pkey",
			[]string{"'+905551234567'", "'sent'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "10"}},
	}
	for i, tt := range tests {
		name := "plan" + strconv.Itoa(i)
		_, err := conn.Exec(ctx, "PREPARE "+name+" AS "+tt.query)
		require.NoError(t, err, tt.name)
		rows, err := conn.Query(ctx, "EXPLAIN EXECUTE "+name+"("+strings.Join(tt.args, ", ")+")")
		require.NoError(t, err, tt.name)
		var plan []string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rows.Err())
		joined := strings.Join(plan, "\n")
		require.Contains(t, joined, tt.index, "%s:\n%s", tt.name, joined)
		require.NotContains(t, joined, "Seq Scan on messages", "%s:\n%s", tt.name, joined)
		require.NotContains(t, joined, "Seq Scan on delivery_attempts", "%s:\n%s", tt.name, joined)
		require.NotContains(t, joined, "Sort Key: messages.", "no sort of the rows read: %s:\n%s", tt.name, joined)
	}
}

// TestAuditQueryPlans guards the audit list (auditQuery) under a generic
// plan, for every shape of filter: each branch of the union — stored
// events, the claimed and the sent events of attempt rows — must read an
// index in id order and stop at the page, never scan a table or sort it.
func TestAuditQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t)
	conn, err := s.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	for _, set := range []string{"plan_cache_mode = force_generic_plan", "enable_seqscan = off", "enable_sort = off"} {
		_, err := conn.Exec(ctx, "SET "+set)
		require.NoError(t, err)
	}
	id := "0190a000-0000-7000-8000-000000000001"
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		filter  ims.AuditFilter
		indexes []string
	}{
		{"everything", ims.AuditFilter{}, []string{"audit_events_pkey", "delivery_attempts_pkey"}},
		{"claimed", ims.AuditFilter{Type: ims.EventMessageClaimed}, []string{"audit_events_type_idx", "delivery_attempts_pkey"}},
		{"sent", ims.AuditFilter{Type: ims.EventMessageSent}, []string{"audit_events_type_idx", "delivery_attempts_pkey"}},
		{"a rare type", ims.AuditFilter{Type: ims.EventMessageDead}, []string{"audit_events_type_idx"}},
		{"created", ims.AuditFilter{Type: ims.EventMessageCreated}, []string{"audit_events_pkey"}},
		{"one message", ims.AuditFilter{MessageID: id}, []string{"audit_events_message_idx", "delivery_attempts_message_idx"}},
		{"one message's sent", ims.AuditFilter{MessageID: id, Type: ims.EventMessageSent},
			[]string{"delivery_attempts_message_idx"}}, // stored: the type or the message index
		{"since", ims.AuditFilter{Since: at}, []string{"delivery_attempts_pkey"}},
		{"until", ims.AuditFilter{Until: at}, []string{"delivery_attempts_pkey"}},
		{"before", ims.AuditFilter{Before: 1000}, []string{"audit_events_pkey", "delivery_attempts_pkey"}},
		{"every filter", ims.AuditFilter{Type: ims.EventMessageClaimed, MessageID: id, Since: at, Until: at.Add(time.Hour), Before: 1000},
			[]string{"delivery_attempts_message_idx"}},
	}
	for i, tt := range tests {
		q, args := auditQuery(tt.filter, 50)
		lits := make([]string, len(args))
		for j, a := range args {
			switch v := a.(type) {
			case string:
				lits[j] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
			case pgtype.UUID:
				lits[j] = "'" + uuid.UUID(v.Bytes).String() + "'"
			case time.Time:
				lits[j] = "'" + v.Format(time.RFC3339Nano) + "'"
			default:
				lits[j] = fmt.Sprint(v)
			}
		}
		name := "audit" + strconv.Itoa(i)
		_, err := conn.Exec(ctx, "PREPARE "+name+" AS "+q)
		require.NoError(t, err, tt.name)
		rows, err := conn.Query(ctx, "EXPLAIN EXECUTE "+name+"("+strings.Join(lits, ", ")+")")
		require.NoError(t, err, tt.name)
		var plan []string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rows.Err())
		joined := strings.Join(plan, "\n")
		for _, index := range tt.indexes {
			require.Contains(t, joined, index, "%s:\n%s", tt.name, joined)
		}
		require.NotContains(t, joined, "Seq Scan", "%s:\n%s", tt.name, joined)
		require.NotContains(t, joined, "->  Sort", "%s:\n%s", tt.name, joined)
		require.NotContains(t, joined, "Bitmap", "an index walked in id order, not a bitmap: %s:\n%s", tt.name, joined)
	}
}

// listByPhone is ListMessages' query for f with a phone number and a cursor.
func listByPhone(f ims.MessageFilter) string {
	f.PhoneNumber, f.Before = "+905551234567", "ffffffff-ffff-ffff-ffff-ffffffffffff"
	q, _ := listSQL(f, f.Before, 10)
	return q
}

// TestRecordOutcomesScansNoCTEPerRow: the outcome statement joins no CTE to
// another (see recordSQL). The planner estimates an UPDATE's RETURNING at a
// row or so, so wherever two CTEs are joined a nested loop over one of them
// is a plan it may pick, and then the other is scanned once per outcome:
// seen at 400 ms for 1,000 outcomes. Hash and merge joins are disabled
// here, which leaves the planner only loops, and no loop over a CTE may
// scan another CTE more than once.
func TestRecordOutcomesScansNoCTEPerRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t)
	_, err := s.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)
	const n = 200
	nms := make([]ims.NewMessage, n)
	for i := range nms {
		nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: "outcome " + strconv.Itoa(i)}
	}
	_, err = s.CreateMessages(ctx, ims.WithActor("test", nms))
	require.NoError(t, err)
	claimed, err := s.ClaimDue(ctx, ims.ClaimParams{Limit: n, Lease: time.Hour, Actor: "test"})
	require.NoError(t, err)
	require.Len(t, claimed, n)
	outs := make([]ims.Outcome, n)
	for i, m := range claimed {
		outs[i] = ims.Outcome{Claim: m.Claim(), At: time.Now(), Decision: ims.Decision{Status: ims.StatusSent},
			Result: ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-" + m.ID}}
		if i%2 == 1 {
			outs[i].Decision = ims.Decision{Status: ims.StatusPending, NextAttemptAt: time.Now().Add(time.Minute)}
			outs[i].Result = ims.DeliveryResult{StatusCode: 503, Response: "unavailable"}
		}
	}
	outs[0].Claim.Attempt++ // a stale outcome: it inserts its own attempt row
	a, err := newOutcomeArrays(outs)
	require.NoError(t, err)

	tx, err := s.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
	require.NoError(t, err)
	var plan []struct{ Plan planNode }
	require.NoError(t, tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+recordSQL, a.ids, a.attempts, a.statuses,
		a.ats, a.nextAts, a.sent, a.codes, a.latencies, a.errors, a.lastErrors, a.responses, a.providerIDs,
		a.events, a.details, ims.StatusStrings(ims.OutcomeFrom), "test", a.held, a.synth,
		ims.AttemptInFlight).Scan(&plan))
	require.Len(t, plan, 1)
	var loops int
	var walk func(p planNode)
	walk = func(p planNode) {
		if p.NodeType == "Nested Loop" && len(p.Plans) == 2 && len(p.Plans[0].cteScans()) > 0 {
			loops++
			for _, inner := range p.Plans[1].cteScans() {
				require.LessOrEqual(t, inner.Loops, 1.0, "CTE %s is scanned once per row of CTE %s",
					inner.CTEName, p.Plans[0].cteScans()[0].CTEName)
			}
		}
		for _, c := range p.Plans {
			walk(c)
		}
	}
	walk(plan[0].Plan)
	require.Positive(t, loops, "no loop over a CTE at all: the test no longer tests")
}
