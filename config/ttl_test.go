package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadMessageTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string // "" = unset
		want    time.Duration
		wantErr string
	}{
		{"default: none", "", 0, ""},
		{"0 is none", "0", 0, ""},
		{"0s is none", "0s", 0, ""},
		{"an hour", "1h", time.Hour, ""},
		{"the minimum", "1s", time.Second, ""},
		{"ten years", "87600h", 87600 * time.Hour, ""},
		{"not a duration", "a day", 0, "MESSAGE_TTL must be a Go duration"},
		{"negative", "-1h", 0, "MESSAGE_TTL must be a Go duration"},
		{"under a second", "500ms", 0, "MESSAGE_TTL must be 0 (messages never expire) or a Go duration from 1s to 87600h0m0s (10 years), got 500ms"},
		{"over ten years", "87601h", 0, "MESSAGE_TTL must be 0 (messages never expire) or a Go duration from 1s to 87600h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := minimal(nil)
			if tt.value != "" {
				env["MESSAGE_TTL"] = tt.value
			}
			c, err := Load(lookupFrom(env))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, c.MessageTTL)
		})
	}
}
