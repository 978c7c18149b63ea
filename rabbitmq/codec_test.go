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

func TestEntryRoundTrip(t *testing.T) {
	t.Parallel()
	lease := time.Date(2025, 1, 2, 15, 4, 5, 123456789, time.UTC)
	tests := []struct {
		name   string
		claims []ims.Claim
	}{
		{"one claim without lease", []ims.Claim{{MessageID: "m-1", Attempt: 1}}},
		{"one claim with lease", []ims.Claim{{MessageID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Attempt: 7, LeaseUntil: lease}}},
		{"attempt zero", []ims.Claim{{MessageID: "m-3", Attempt: 0}}},
		{"several", []ims.Claim{
			{MessageID: "a", Attempt: 1, LeaseUntil: lease},
			{MessageID: "bb", Attempt: 300},
			{MessageID: "ccc", Attempt: 2, LeaseUntil: lease.Add(time.Nanosecond)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, err := rabbitmq.AppendEntry(nil, tt.claims)
			require.NoError(t, err)
			got, err := rabbitmq.DecodeEntry(body)
			require.NoError(t, err)
			require.Len(t, got, len(tt.claims))
			for i, want := range tt.claims {
				require.Equal(t, want.MessageID, got[i].MessageID)
				require.Equal(t, want.Attempt, got[i].Attempt)
				require.True(t, want.LeaseUntil.Equal(got[i].LeaseUntil), "lease %v != %v", want.LeaseUntil, got[i].LeaseUntil)
			}
		})
	}
}

// TestDecodeEntryReadsLegacyEntries: entries queued by an instance from
// before the claims format are JSON, one claim each, and must still be
// delivered after an upgrade.
func TestDecodeEntryReadsLegacyEntries(t *testing.T) {
	t.Parallel()
	lease := time.Date(2025, 1, 2, 15, 4, 5, 123456000, time.UTC)
	tests := []struct {
		name, body string
		want       ims.Claim
	}{
		{"without lease", `{"message_id":"m-1","attempt":3}`, ims.Claim{MessageID: "m-1", Attempt: 3}},
		{"with lease", `{"message_id":"m-1","attempt":3,"lease_until":"2025-01-02T15:04:05.123456Z"}`,
			ims.Claim{MessageID: "m-1", Attempt: 3, LeaseUntil: lease}},
		{"leading white space", ` {"message_id":"m-2","attempt":0}`, ims.Claim{MessageID: "m-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := rabbitmq.DecodeEntry([]byte(tt.body))
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, tt.want.MessageID, got[0].MessageID)
			require.Equal(t, tt.want.Attempt, got[0].Attempt)
			require.True(t, tt.want.LeaseUntil.Equal(got[0].LeaseUntil))
		})
	}
}

func TestEncodeEntryRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		claims []ims.Claim
		want   string
	}{
		{"no claims", nil, "no claims"},
		{"no message id", []ims.Claim{{Attempt: 1}}, "no message id"},
		{"negative attempt", []ims.Claim{{MessageID: "m", Attempt: -1}}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := rabbitmq.AppendEntry(nil, tt.claims)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	t.Parallel()
	valid, err := rabbitmq.AppendEntry(nil, []ims.Claim{{MessageID: "m-1", Attempt: 1}, {MessageID: "m-2", Attempt: 2}})
	require.NoError(t, err)
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"version byte only", []byte{1}, "truncated"},
		{"no claims", []byte{1, 0}, "0 claims"},
		{"more claims than bytes", []byte{1, 100, 1, 'm', 1, 0}, "100 claims"},
		{"truncated", valid[:len(valid)-2], "decode entry"},
		{"trailing bytes", append(append([]byte{}, valid...), 0), "after the last claim"},
		{"empty message id", []byte{1, 1, 0, 1, 0}, "message id is missing"},
		{"message id past the end", []byte{1, 1, 9, 'm', 1, 0}, "message id of 9 bytes"},
		{"attempt out of range", []byte{1, 1, 1, 'm', 0x80, 0x80, 0x80, 0x80, 0x10, 0}, "out of range"},
		{"overlong number", []byte{1, 1, 1, 'm', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}, "overlong"},
		{"legacy, not json", []byte("not json"), "decode claim"},
		{"legacy, empty", []byte{}, "decode claim"},
		{"legacy, missing id", []byte(`{"attempt":1}`), "message_id is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := rabbitmq.DecodeEntry(tt.body)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func FuzzDecodeEntry(f *testing.F) {
	valid, err := rabbitmq.AppendEntry(nil, []ims.Claim{{MessageID: "m-1", Attempt: 1, LeaseUntil: time.Unix(1, 2)}})
	require.NoError(f, err)
	f.Add(valid)
	f.Add([]byte(`{"message_id":"m","attempt":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		claims, err := rabbitmq.DecodeEntry(body)
		if err != nil {
			return
		}
		for _, c := range claims {
			if c.MessageID == "" || c.Attempt < 0 {
				t.Fatalf("decoded an invalid claim %+v", c)
			}
		}
	})
}
