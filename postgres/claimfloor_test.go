package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/storetest"
	"github.com/insiderone/ims/internal/testenv"
)

// TestClaimFloorAcrossInstances: a store's claims start their walk where
// its last full claim stopped, so a message that another instance makes due
// behind that point is not seen by the floored walk. It must still be
// claimed, first in order, once the floor has lived its second, and at once
// by a claim with room for more than is due.
func TestClaimFloorAcrossInstances(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	clock := storetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	claimer, other := openURL(t, url, clock.Now), openURL(t, url, clock.Now)
	_, err := claimer.InitSchedulerState(t.Context(), true, "test")
	require.NoError(t, err)

	backlog := make([]ims.NewMessage, 50)
	for i := range backlog {
		backlog[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("m%d", i)}
	}
	_, err = claimer.CreateMessages(t.Context(), ims.WithActor("test", backlog))
	require.NoError(t, err)
	clock.Advance(time.Minute) // the backlog is a minute old: floors follow it
	claim := func(limit int) []string {
		t.Helper()
		msgs, err := claimer.ClaimDue(t.Context(), ims.ClaimParams{Limit: limit, Lease: time.Hour, Actor: "w"})
		require.NoError(t, err)
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		return ids
	}
	require.Len(t, claim(10), 10, "a full claim: the floor moves to its last row")

	past := clock.Now().Add(-time.Hour)
	early, err := other.CreateMessages(t.Context(), ims.WithActor("test", []ims.NewMessage{
		{PhoneNumber: "+905551234567", Content: "early", SendAt: &past},
	}))
	require.NoError(t, err)
	earlyID := early[0].Message.ID

	require.NotContains(t, claim(10), earlyID, "behind the floor, unseen by another instance's store (the floor works)")
	clock.Advance(time.Second)
	got := claim(10)
	require.Equal(t, earlyID, got[0], "once the floor is a second old, the walk starts at the front again")

	late, err := other.CreateMessages(t.Context(), ims.WithActor("test", []ims.NewMessage{
		{PhoneNumber: "+905551234567", Content: "late", SendAt: &past},
	}))
	require.NoError(t, err)
	require.Len(t, claim(10), 10, "the floor is set again")
	got = claim(100)
	require.Len(t, got, 12, "a claim with room for more than is due gets all that is due")
	require.Equal(t, late[0].Message.ID, got[0], "the one behind the floor first, in claim order: 11 of the backlog were left")
}
