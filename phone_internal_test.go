package ims

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

// TestParseE164MatchesParse holds the E.164 fast path to phonenumbers.Parse
// on numbers of many shapes: country codes of 1, 2 and 3 digits, shared
// codes (+1, +7, +44), Italian leading zeros, non-geographic codes,
// invalid and too short numbers.
func TestParseE164MatchesParse(t *testing.T) {
	t.Parallel()
	numbers := []string{
		"+905551234567", "+902121234567", "+12125551234", "+14155552671", "+16135550123", "+18765550123",
		"+1234567890", "+79161234567", "+77012345678", "+447400123456", "+447911123456", "+441481123456",
		"+393123456789", "+390612345678", "+39066123456", "+4915123456789", "+33612345678", "+819012345678",
		"+8613812345678", "+85212345678", "+97150123456", "+966501234567", "+5511912345678", "+61412345678",
		"+35312345678", "+3548123456", "+80012345678", "+88213012345", "+2348012345678", "+2207012345",
		"+99912345678", "+9055512345678", "+123", "+10000000000",
	}
	for _, n := range numbers {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			want, wantErr := phonenumbers.Parse(n, phonenumbers.UNKNOWN_REGION)
			got, gotErr := parseE164(n)
			if wantErr != nil {
				require.Error(t, gotErr)
				return
			}
			require.NoError(t, gotErr)
			require.Equal(t, want.GetCountryCode(), got.GetCountryCode())
			require.Equal(t, want.GetNationalNumber(), got.GetNationalNumber())
			require.Equal(t, want.GetItalianLeadingZero(), got.GetItalianLeadingZero())
			require.Equal(t, want.GetNumberOfLeadingZeros(), got.GetNumberOfLeadingZeros())
			require.Equal(t, phonenumbers.IsValidNumber(want), phonenumbers.IsValidNumber(got))
			require.Equal(t, phonenumbers.GetRegionCodeForNumber(want), phonenumbers.GetRegionCodeForNumber(got))
		})
	}
}
