package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// TestMessageScannerGivesEveryRowItsOwnTimes: one scanner reads all the rows
// of a query and converts their optional times to UTC in place, so a row
// with NULL times after one with times set must not keep the previous row's,
// and no two rows may share a time's pointer (converting one would move the
// other).
func TestMessageScannerGivesEveryRowItsOwnTimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t)

	base := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond)
	sendAts := []*time.Time{ptr(base), nil, ptr(base.Add(time.Minute)), ptr(base.Add(2 * time.Minute)), nil}
	nms := make([]ims.NewMessage, len(sendAts))
	for i, at := range sendAts {
		nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("scan %d", i), SendAt: at}
	}
	created, err := s.CreateMessages(ctx, ims.WithActor("test", nms))
	require.NoError(t, err)
	ids := make([]string, len(created))
	for i, r := range created {
		ids[i] = r.Message.ID
	}

	rows, err := s.pool.Query(ctx, "SELECT "+messageCols("")+" FROM messages WHERE id = ANY($1::uuid[]) ORDER BY id", ids)
	require.NoError(t, err)
	got, err := collectMessages(rows, len(ids))
	require.NoError(t, err)
	require.Len(t, got, len(sendAts))
	seen := map[*time.Time]bool{}
	for i, m := range got {
		require.Equal(t, created[i].Message.ID, m.ID, "rows in creation order")
		if sendAts[i] == nil {
			require.Nil(t, m.SendAt, "message %d", i)
			continue
		}
		require.NotNil(t, m.SendAt, "message %d", i)
		require.True(t, sendAts[i].Equal(*m.SendAt), "message %d: send_at %v, want %v", i, *m.SendAt, *sendAts[i])
		require.Equal(t, time.UTC, m.SendAt.Location(), "message %d", i)
		require.False(t, seen[m.SendAt], "message %d shares its send_at with an earlier row", i)
		seen[m.SendAt] = true
	}
}

func ptr[T any](v T) *T { return &v }
