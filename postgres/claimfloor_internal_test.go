package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestClaimFloors(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	normal, high := ims.PriorityNormal, ims.PriorityHigh
	key := func(p ims.Priority, due time.Time) ims.ClaimKey { return ims.ClaimKey{Priority: p, Due: due, ID: "x"} }
	tests := []struct {
		name        string
		do          func(f *claimFloors)
		at          time.Time // when the next claim asks
		wantFloored bool
		wantNormal  time.Time
		wantHigh    time.Time
	}{
		{"none at first", func(*claimFloors) {}, t0, false, time.Time{}, time.Time{}},
		{"a full claim moves each rank's floor to its last row", func(f *claimFloors) {
			_, gen, _ := f.current(t0)
			f.advance(gen, t0, []ims.ClaimKey{key(high, t0.Add(-time.Hour)), key(normal, t0.Add(-3*time.Minute)), key(normal, t0.Add(-2*time.Minute))})
		}, t0, true, t0.Add(-2 * time.Minute), t0.Add(-time.Hour)},
		{"never within floorLag of now", func(f *claimFloors) {
			_, gen, _ := f.current(t0)
			f.advance(gen, t0, []ims.ClaimKey{key(normal, t0.Add(-time.Millisecond))})
		}, t0, true, t0.Add(-floorLag), time.Time{}},
		{"never back", func(f *claimFloors) {
			_, gen, _ := f.current(t0)
			f.advance(gen, t0, []ims.ClaimKey{key(normal, t0.Add(-time.Minute))})
			f.advance(gen, t0, []ims.ClaimKey{key(normal, t0.Add(-2*time.Minute))})
		}, t0, true, t0.Add(-time.Minute), time.Time{}},
		{"dropped after floorTTL", func(f *claimFloors) {
			_, gen, _ := f.current(t0)
			f.advance(gen, t0, []ims.ClaimKey{key(normal, t0.Add(-time.Minute))})
		}, t0.Add(floorTTL), false, time.Time{}, time.Time{}},
		{"dropped when the clock goes back", func(f *claimFloors) {
			_, gen, _ := f.current(t0)
			f.advance(gen, t0, []ims.ClaimKey{key(normal, t0.Add(-time.Minute))})
		}, t0.Add(-time.Millisecond), false, time.Time{}, time.Time{}},
		{"a claim that ran across a reset sets none", func(f *claimFloors) {
			_, gen, _ := f.current(t0)
			f.reset() // a create due in the past committed meanwhile
			f.advance(gen, t0, []ims.ClaimKey{key(normal, t0.Add(-time.Minute))})
		}, t0, false, time.Time{}, time.Time{}},
		{"a create due in the past drops them", func(f *claimFloors) {
			_, gen, _ := f.current(t0)
			f.advance(gen, t0, []ims.ClaimKey{key(normal, t0.Add(-time.Minute))})
			past := t0.Add(-time.Hour)
			f.resetIfBehind([]ims.NewMessage{{}, {SendAt: &past}}, t0)
		}, t0, false, time.Time{}, time.Time{}},
		{"a create due now or later keeps them", func(f *claimFloors) {
			_, gen, _ := f.current(t0)
			f.advance(gen, t0, []ims.ClaimKey{key(normal, t0.Add(-time.Minute))})
			later := t0.Add(time.Hour)
			f.resetIfBehind([]ims.NewMessage{{}, {SendAt: &later}, {SendAt: &t0}}, t0)
		}, t0, true, t0.Add(-time.Minute), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f claimFloors
			tt.do(&f)
			floors, _, floored := f.current(tt.at)
			require.Equal(t, tt.wantFloored, floored)
			require.Len(t, floors, len(ims.Priorities))
			require.Equal(t, tt.wantHigh, floors[0], "high")
			require.Equal(t, tt.wantNormal, floors[1], "normal")
			require.Equal(t, time.Time{}, floors[2], "low")
		})
	}
}

// TestClaimWalksFromTheFloor counts the due-index pages a claim reads after
// earlier claims left their dead entries at the front of the index (no
// VACUUM runs in a test): from the floor the store keeps, a claim reads a
// page or two; from the front, every page of those entries. Counts of
// pages, not times: the same on a loaded machine.
func TestClaimWalksFromTheFloor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	_, err := s.InitSchedulerState(ctx, true, "test")
	require.NoError(t, err)

	const batches, perBatch = 100, 50 // as bulk creates: each batch due at its own instant
	for b := range batches {
		nms := make([]ims.NewMessage, perBatch)
		for i := range nms {
			nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("m%d-%d", b, i)}
		}
		_, err := s.CreateMessages(ctx, ims.WithActor("test", nms))
		require.NoError(t, err)
		now = now.Add(time.Millisecond)
	}
	now = now.Add(time.Minute)
	for range batches - 1 {
		msgs, err := s.ClaimDue(ctx, ims.ClaimParams{Limit: perBatch, Lease: time.Hour, Actor: "w"})
		require.NoError(t, err)
		require.Len(t, msgs, perBatch)
	}

	floors, _, floored := s.floors.current(now)
	require.True(t, floored, "full claims set a floor")
	fromFloor := dueIndexPagesOfClaim(t, s, now, floors)
	fromFront := dueIndexPagesOfClaim(t, s, now, make([]time.Time, len(floors)))
	t.Logf("due index pages read by a claim: %d from the floor, %d from the front", fromFloor, fromFront)
	require.GreaterOrEqual(t, fromFront, 20, "the front holds the dead entries of 4,950 claims")
	require.LessOrEqual(t, fromFloor, 10, "from the floor, the walk steps over the last batch only")
	require.LessOrEqual(t, 3*fromFloor, fromFront)
}

// dueIndexPagesOfClaim runs claimSQL under EXPLAIN (ANALYZE, BUFFERS) in a
// transaction it rolls back, claiming one message, and returns the buffers
// (index and heap pages) its scans of messages_due_idx touched.
func dueIndexPagesOfClaim(t *testing.T, s *Store, now time.Time, floors []time.Time) int {
	t.Helper()
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()
	var plan string
	err = tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+claimSQL, now, 1, now.Add(time.Hour), "w",
		string(ims.TransitionClaim.To), ims.AttemptInFlight, ims.AttemptLeaseExpired, floors).Scan(&plan)
	require.NoError(t, err)
	var root []struct{ Plan planNode }
	require.NoError(t, json.Unmarshal([]byte(plan), &root))
	require.Len(t, root, 1)
	pages, found := root[0].Plan.buffersOf("messages_due_idx")
	require.True(t, found, "the claim reads messages_due_idx:\n%s", plan)
	return pages
}

// planNode is the part of EXPLAIN's JSON that the plan tests read.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	CTEName   string     `json:"CTE Name"`
	IndexName string     `json:"Index Name"`
	Hit       int        `json:"Shared Hit Blocks"`
	Read      int        `json:"Shared Read Blocks"`
	Loops     float64    `json:"Actual Loops"`
	Plans     []planNode `json:"Plans"`
}

// cteScans returns the CTE scans in n's subtree.
func (n planNode) cteScans() []planNode {
	var scans []planNode
	if n.NodeType == "CTE Scan" {
		scans = append(scans, n)
	}
	for _, c := range n.Plans {
		scans = append(scans, c.cteScans()...)
	}
	return scans
}

// buffersOf sums the buffers of the nodes scanning index and reports
// whether there was one.
func (n planNode) buffersOf(index string) (int, bool) {
	total, found := 0, n.IndexName == index
	if found {
		total = n.Hit + n.Read
	}
	for _, c := range n.Plans {
		sub, ok := c.buffersOf(index)
		total, found = total+sub, found || ok
	}
	return total, found
}
