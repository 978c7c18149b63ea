package ims_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestValidatePriority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      *string
		want    ims.Priority
		problem bool
	}{
		{"absent: normal", nil, ims.PriorityNormal, false},
		{"empty: normal", ptr(""), ims.PriorityNormal, false},
		{"high", ptr("high"), ims.PriorityHigh, false},
		{"normal", ptr("normal"), ims.PriorityNormal, false},
		{"low", ptr("low"), ims.PriorityLow, false},
		{"upper case is not the contract's spelling", ptr("HIGH"), "", true},
		{"unknown", ptr("urgent"), "", true},
		{"padded", ptr(" high"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problem := ims.ValidatePriority(tt.in)
			require.Equal(t, tt.want, got)
			if tt.problem {
				require.Contains(t, problem, "must be one of: high, normal, low")
			} else {
				require.Empty(t, problem)
			}
		})
	}
}

func TestPriorityRank(t *testing.T) {
	t.Parallel()
	for i, p := range ims.Priorities {
		require.Equal(t, i, p.Rank(), p)
		require.True(t, p.Valid())
	}
	require.Equal(t, ims.PriorityNormal.Rank(), ims.Priority("").Rank(), "a row from before priorities ranks as normal")
	require.False(t, ims.Priority("").Valid())
}

func TestCompareClaimOrder(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	keys := []ims.ClaimKey{
		{ims.PriorityLow, at, "a"},
		{ims.PriorityNormal, at.Add(time.Second), "b"},
		{ims.PriorityHigh, at.Add(time.Hour), "c"},
		{ims.PriorityNormal, at, "e"},
		{ims.PriorityNormal, at, "d"},
		{"", at.Add(-time.Second), "f"},
	}
	slices.SortFunc(keys, ims.CompareClaimOrder)
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	require.Equal(t, []string{"c", "f", "d", "e", "b", "a"}, ids,
		"highest priority first however late it fell due, then oldest due, then by id")
}
