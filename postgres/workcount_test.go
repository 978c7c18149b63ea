package postgres_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// TestWorkPerMessage counts what PostgreSQL writes for a batch of creates,
// claims and outcomes: WAL records by kind and relation (rows inserted,
// updated — HOT or not —, locked; index entries inserted), their bytes, and
// commits, read back with pg_walinspect between the LSNs before and after
// each store call. Only records of this test's own relations count, so the
// figures do not depend on what else the server runs. It measures, it
// asserts nothing about the figures; scripts/pg-work-per-message.sh runs it
// in a scratch database that has the extension.
func TestWorkPerMessage(t *testing.T) {
	if os.Getenv("IMS_WORKCOUNT") == "" {
		t.Skip("set IMS_WORKCOUNT=1 and a database with pg_walinspect (scripts/pg-work-per-message.sh)")
	}
	const n = 1000
	s := open(t, time.Now)
	ctx := t.Context()
	pool := s.Pool()
	_, err := s.InitSchedulerState(ctx, true, "workcount")
	require.NoError(t, err)
	if url := os.Getenv("IMS_WORKCOUNT_CALLBACK_URL"); url != "" {
		require.NoError(t, s.SetStatusCallbackURL(ctx, url))
	}

	measure := func(name string, call func() error) {
		var start, end string
		require.NoError(t, pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&start))
		require.NoError(t, call())
		require.NoError(t, pool.QueryRow(ctx, `SELECT pg_current_wal_flush_lsn()::text`).Scan(&end))
		if start == end { // a read: pg_get_wal_records_info refuses an empty range
			t.Logf("%s, %d messages:\n  total 0 records, 0 bytes (0 per message): no WAL written", name, n)
			return
		}
		rows, err := pool.Query(ctx, `
WITH r AS (
	SELECT *, substring(block_ref FROM 'rel [0-9]+/[0-9]+/([0-9]+)') AS node
	FROM public.pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)
),
ours AS (
	SELECT r.*, c.relname FROM r JOIN pg_class c ON c.relfilenode::text = r.node
	WHERE c.relnamespace = current_schema()::regnamespace
)
SELECT resource_manager, split_part(record_type, ' ', 1), relname, count(*)::int,
	sum(record_length - fpi_length)::int, sum(fpi_length)::int FROM ours GROUP BY 1, 2, 3
UNION ALL
SELECT 'Transaction', split_part(record_type, ' ', 1), '-', count(*)::int, sum(record_length)::int, 0 FROM r
WHERE resource_manager = 'Transaction' AND xid IN (SELECT xid FROM ours WHERE xid <> '0') GROUP BY 1, 2
ORDER BY 1, 3, 2`, start, end)
		require.NoError(t, err)
		defer rows.Close()
		var b strings.Builder
		var records, bytes, fpi int
		fmt.Fprintf(&b, "%s, %d messages:\n", name, n)
		for rows.Next() {
			var rm, typ, rel string
			var c, by, f int
			require.NoError(t, rows.Scan(&rm, &typ, &rel, &c, &by, &f))
			records, bytes, fpi = records+c, bytes+by, fpi+f
			fmt.Fprintf(&b, "  %-11s %-12s %-36s %6d records %9d bytes\n", rm, typ, rel, c, by)
		}
		require.NoError(t, rows.Err())
		fmt.Fprintf(&b, "  total %d records, %d bytes (%.0f per message), and %d bytes of full-page images\n",
			records, bytes, float64(bytes)/n, fpi)
		t.Log(b.String())
	}

	nms := make([]ims.NewMessage, n)
	for i := range nms {
		nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("work count %d", i)}
	}
	measure("CreateMessages", func() error {
		_, err := s.CreateMessages(ctx, ims.WithActor("workcount", nms))
		return err
	})
	var claimed []ims.Message
	measure("ClaimDue", func() error {
		var err error
		claimed, err = s.ClaimDue(ctx, ims.ClaimParams{Limit: n, Lease: time.Hour, Actor: "workcount"})
		return err
	})
	require.Len(t, claimed, n)
	// RabbitMQ mode: a consumer checks a first delivery (a read) and renews
	// a redelivered one (a compare-and-set on the handed-over deadline),
	// once, before the call.
	handed := make([]ims.Claim, n)
	for i, m := range claimed {
		handed[i] = m.HandOver()
	}
	measure("CheckClaims (RabbitMQ mode, first delivery)", func() error {
		current, err := s.CheckClaims(ctx, handed)
		if err == nil && len(current) != n {
			err = fmt.Errorf("checked %d of %d claims", len(current), n)
		}
		return err
	})
	measure("RenewClaims (RabbitMQ mode, redelivered)", func() error {
		renewed, err := s.RenewClaims(ctx, handed, time.Hour)
		if err == nil && len(renewed) != n {
			err = fmt.Errorf("renewed %d of %d claims", len(renewed), n)
		}
		return err
	})
	outs := make([]ims.Outcome, n)
	for i, m := range claimed {
		outs[i] = ims.Outcome{Claim: m.Claim(), At: time.Now(), Decision: ims.Decision{Status: ims.StatusSent, Reason: "delivered"},
			Result: ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "prov-" + m.ID, Latency: time.Millisecond,
				Response: `{"message":"Accepted"}`}}
	}
	measure("RecordOutcomes (sent)", func() error { return s.RecordOutcomes(ctx, outs, "workcount") })

	// The triggers an outcome calls (all of them per statement since 00018),
	// from EXPLAIN ANALYZE (calls are counted, not timed) of an UPDATE making
	// the outcome's change — sent, with a provider id — to a second claimed
	// batch, rolled back.
	_, err = s.CreateMessages(ctx, ims.WithActor("workcount", nms))
	require.NoError(t, err)
	claimed, err = s.ClaimDue(ctx, ims.ClaimParams{Limit: n, Lease: time.Hour, Actor: "workcount"})
	require.NoError(t, err)
	require.Len(t, claimed, n)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()
	var plan []struct {
		Triggers []struct {
			Name  string  `json:"Trigger Name"`
			Calls float64 `json:"Calls"`
		} `json:"Triggers"`
	}
	require.NoError(t, tx.QueryRow(ctx, `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON)
UPDATE messages SET status = 'sent', provider_message_id = 'prov-' || id, updated_at = now()
WHERE status = 'sending'`).Scan(&plan))
	var b strings.Builder
	fmt.Fprintf(&b, "triggers called by an outcome's UPDATE (sent, provider id), %d messages:", n)
	for _, p := range plan {
		for _, tr := range p.Triggers {
			fmt.Fprintf(&b, " %s %.0f calls;", tr.Name, tr.Calls)
		}
	}
	t.Log(b.String())
}
