package sqlite_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/sqlite"
)

// TestUseDeliveryReports: the provider-ID index follows the setting, and once
// reports are turned on a report finds a message sent while they were off,
// through the index.
func TestUseDeliveryReports(t *testing.T) {
	t.Parallel()
	s := open(t, time.Now).(*sqlite.Store)
	read, write := sqlite.Pools(s)

	hasIndex := func(t *testing.T) bool {
		t.Helper()
		var n int
		require.NoError(t, read.QueryRowContext(t.Context(),
			`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'messages_provider_message_id'`).Scan(&n))
		return n == 1
	}
	require.True(t, hasIndex(t), "migrations create the index")
	indexSQL := func(t *testing.T) string {
		t.Helper()
		var def string
		require.NoError(t, read.QueryRowContext(t.Context(),
			`SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = 'messages_provider_message_id'`).Scan(&def))
		return strings.Join(strings.Fields(def), " ")
	}
	migrated := indexSQL(t)

	steps := []struct {
		name        string
		enabled     bool
		wantChanged bool
		wantIndex   bool
	}{
		{"on, as migrated: kept", true, false, true},
		{"off: dropped", false, true, false},
		{"off again: nothing to do", false, false, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			changed, err := s.UseDeliveryReports(t.Context(), st.enabled)
			require.NoError(t, err)
			require.Equal(t, st.wantChanged, changed)
			require.Equal(t, st.wantIndex, hasIndex(t))
		})
	}

	t.Run("on again: rebuilt from the stored IDs and used", func(t *testing.T) {
		res, err := s.CreateMessages(t.Context(), ims.WithActor("test", []ims.NewMessage{{PhoneNumber: "+905551234567", Content: "sent while off"}}))
		require.NoError(t, err)
		id := res[0].Message.ID
		// The columns a sent outcome sets, written while the index is gone.
		_, err = write.ExecContext(t.Context(), `UPDATE messages SET status = 'sent', provider_message_id = 'prov-1' WHERE id = ?`, id)
		require.NoError(t, err)

		changed, err := s.UseDeliveryReports(t.Context(), true)
		require.NoError(t, err)
		require.True(t, changed)
		require.True(t, hasIndex(t))
		require.Equal(t, migrated, indexSQL(t), "the rebuilt index is the migrated one")

		plan := strings.Join(sqlite.QueryPlan(t, read, sqlite.MessageByProviderIDSQL, "prov-1"), "; ")
		require.Contains(t, plan, "messages_provider_message_id", "a report's lookup uses the index")

		got, err := s.RecordDeliveryReports(t.Context(), []ims.DeliveryReport{{
			ProviderMessageID: "prov-1", Status: ims.DeliveryDelivered, Reported: "delivered", At: time.Now(),
		}}, "dlr:test")
		require.NoError(t, err)
		require.Equal(t, []ims.ReportResult{{ProviderMessageID: "prov-1", Outcome: ims.ReportApplied, MessageID: id}}, got)
	})
}
