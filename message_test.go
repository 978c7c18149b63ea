package ims_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestMessageJSONNextAttemptAt(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, st := range ims.Statuses {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(ims.Message{ID: "x", Status: st, NextAttemptAt: due})
			require.NoError(t, err)
			var fields map[string]any
			require.NoError(t, json.Unmarshal(b, &fields))
			_, shown := fields["next_attempt_at"]
			require.Equal(t, !st.Final(), shown, "%s", b)
			require.Equal(t, "x", fields["id"], "the other fields are still there")
			if shown {
				require.Equal(t, "2026-01-02T15:04:05Z", fields["next_attempt_at"])
			}
		})
	}
}
