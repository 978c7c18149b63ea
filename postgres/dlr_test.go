package postgres_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// TestMatchParkedReportsAppliesARacedReport builds what a report whose
// insert raced its send's outcome leaves (read committed: neither saw the
// other): a message with the provider id, and the report still parked.
// The public API cannot build it, so the row is written here in SQL.
func TestMatchParkedReportsAppliesARacedReport(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := open(t, func() time.Time { return now })
	ctx := t.Context()
	_, err := s.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)
	_, err = s.CreateMessages(ctx, []ims.NewMessage{{PhoneNumber: "+905551234567", Content: "hi", Actor: "test"}})
	require.NoError(t, err)
	claimed, err := s.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Minute, Actor: "test"})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.NoError(t, s.RecordOutcomes(ctx, []ims.Outcome{{Claim: claimed[0].Claim(), At: now,
		Result: ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "raced-1"}, Decision: ims.Decision{Status: ims.StatusSent}}}, "test"))

	for _, pid := range []string{"raced-1", "nobody"} {
		_, err = s.Pool().Exec(ctx, `INSERT INTO delivery_reports (provider_message_id, status, reported, reported_at, timestamped, received_at)
			VALUES ($1, 'delivered', 'delivered', $2, true, $2)`, pid, now)
		require.NoError(t, err)
	}
	n, err := s.MatchParkedReports(ctx, now.Add(-time.Minute), 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	m, err := s.GetMessage(ctx, claimed[0].ID)
	require.NoError(t, err)
	require.Equal(t, ims.DeliveryDelivered, m.DeliveryStatus)
	page, err := s.ListAudit(ctx, ims.AuditFilter{MessageID: m.ID, Type: ims.EventMessageDeliveryReport, Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)

	n, err = s.MatchParkedReports(ctx, now.Add(-time.Minute), 100)
	require.NoError(t, err)
	require.Zero(t, n, "matched once")
	purged, err := s.PurgeParkedReports(ctx, now.Add(time.Second), 100)
	require.NoError(t, err)
	require.Equal(t, 1, purged, "the unknown id is still parked; the matched one is not")
}
