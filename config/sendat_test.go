package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadSendAtHorizon(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string // "" = unset
		want    time.Duration
		wantErr string
	}{
		{"default: a year", "", 8760 * time.Hour, ""},
		{"a month", "720h", 720 * time.Hour, ""},
		{"the minimum", "1m", time.Minute, ""},
		{"100 years", "876000h", 876000 * time.Hour, ""},
		{"not a duration", "a year", 0, "SEND_AT_HORIZON must be a Go duration"},
		{"too short", "1s", 0, "SEND_AT_HORIZON must be a Go duration such as 30s, 2m or 1h (at least 1m0s)"},
		{"past year 9999", "1000000h", 0, "SEND_AT_HORIZON must be at most 876000h0m0s (100 years)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := minimal(nil)
			if tt.value != "" {
				env["SEND_AT_HORIZON"] = tt.value
			}
			c, err := Load(lookupFrom(env))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, c.SendAtHorizon)
		})
	}
}
