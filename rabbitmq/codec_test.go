package rabbitmq_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/rabbitmq"
)

func TestClaimRoundTrip(t *testing.T) {
	t.Parallel()
	lease := time.Date(2025, 1, 2, 15, 4, 5, 123456789, time.UTC)
	tests := []struct {
		name  string
		claim ims.Claim
	}{
		{"without lease", ims.Claim{MessageID: "m-1", Attempt: 1}},
		{"with lease", ims.Claim{MessageID: "m-2", Attempt: 7, LeaseUntil: lease}},
		{"attempt zero", ims.Claim{MessageID: "m-3", Attempt: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, err := rabbitmq.EncodeClaim(tt.claim)
			require.NoError(t, err)
			got, err := rabbitmq.DecodeClaim(body)
			require.NoError(t, err)
			require.Equal(t, tt.claim.MessageID, got.MessageID)
			require.Equal(t, tt.claim.Attempt, got.Attempt)
			require.True(t, tt.claim.LeaseUntil.Equal(got.LeaseUntil), "lease %v != %v", tt.claim.LeaseUntil, got.LeaseUntil)
		})
	}
}

func TestEncodeClaimFormat(t *testing.T) {
	t.Parallel()
	body, err := rabbitmq.EncodeClaim(ims.Claim{MessageID: "m-1", Attempt: 3})
	require.NoError(t, err)
	require.JSONEq(t, `{"message_id":"m-1","attempt":3}`, string(body))

	lease := time.Date(2025, 1, 2, 15, 4, 5, 123456000, time.UTC)
	body, err = rabbitmq.EncodeClaim(ims.Claim{MessageID: "m-1", Attempt: 3, LeaseUntil: lease})
	require.NoError(t, err)
	require.JSONEq(t, `{"message_id":"m-1","attempt":3,"lease_until":"2025-01-02T15:04:05.123456Z"}`, string(body))
}

func TestDecodeClaimRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"not json", `not json`, "decode claim"},
		{"empty", ``, "decode claim"},
		{"array", `[1,2]`, "decode claim"},
		{"missing id", `{"attempt":1}`, "message_id is missing"},
		{"empty id", `{"message_id":"","attempt":1}`, "message_id is missing"},
		{"missing attempt", `{"message_id":"m"}`, "attempt is missing"},
		{"negative attempt", `{"message_id":"m","attempt":-1}`, "negative"},
		{"attempt not a number", `{"message_id":"m","attempt":"1"}`, "decode claim"},
		{"bad lease", `{"message_id":"m","attempt":1,"lease_until":"yesterday"}`, "decode claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := rabbitmq.DecodeClaim([]byte(tt.body))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestDecodeClaimIgnoresUnknownFields(t *testing.T) {
	t.Parallel()
	c, err := rabbitmq.DecodeClaim([]byte(`{"message_id":"m","attempt":2,"future":true}`))
	require.NoError(t, err)
	require.Equal(t, ims.Claim{MessageID: "m", Attempt: 2}, c)
}
