package ims_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestSentEventIDFollowsTheClaimedEvent(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(41), ims.ClaimedEventID(41))
	require.Equal(t, int64(42), ims.SentEventID(41))
}

// A sent event is read from its attempt row only when its text is the one
// the store can rebuild from the row (ims.SentEventDetails); any other is
// stored as it was.
func TestSentEventSynthesised(t *testing.T) {
	t.Parallel()
	sent := func(reason string, code int) ims.Outcome {
		return ims.Outcome{Decision: ims.Decision{Status: ims.StatusSent, Reason: reason},
			Result: ims.DeliveryResult{StatusCode: code}}
	}
	tests := []struct {
		name string
		o    ims.Outcome
		want bool
	}{
		{"delivered, with its status", sent(ims.ReasonDelivered, 202), true},
		{"what Decide decides for a 2xx", ims.Outcome{Decision: ims.RetryPolicy{}.Decide(1,
			ims.DeliveryResult{StatusCode: 200}, ims.Outcome{}.At, 0), Result: ims.DeliveryResult{StatusCode: 200}}, true},
		{"another text", sent("delivered by the fallback", 202), false},
		{"a retry", ims.Outcome{Decision: ims.Decision{Status: ims.StatusPending, Reason: ims.ReasonDelivered}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := ims.PlanOutcome(tt.o)
			require.NoError(t, err)
			require.Equal(t, tt.want, ims.SentEventSynthesised(tt.o, w))
		})
	}
	require.Equal(t, "delivered (HTTP 202)", ims.SentEventDetails(202))
	require.Equal(t, "delivered", ims.SentEventDetails(0))
}
