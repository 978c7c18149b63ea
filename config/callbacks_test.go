package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadDeliveryReportsAndCallbacks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults: reports off, no default callback", check: func(t *testing.T, c Config) {
			require.Empty(t, c.DLRAuthKey)
			require.Equal(t, 24*time.Hour, c.DLRParkTTL)
			require.Empty(t, c.StatusCallbackURL)
			require.Empty(t, c.StatusCallbackSecret)
			require.Equal(t, 8, c.StatusCallbackMaxRetries)
		}},
		{name: "everything set", env: map[string]string{"DLR_AUTH_KEY": "dlr", "DLR_PARK_TTL": "2h",
			"STATUS_CALLBACK_URL": "https://cb.example/ims", "STATUS_CALLBACK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			"STATUS_CALLBACK_MAX_RETRIES": "0"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, "dlr", c.DLRAuthKey)
				require.Equal(t, 2*time.Hour, c.DLRParkTTL)
				require.Equal(t, "https://cb.example/ims", c.StatusCallbackURL)
				require.Equal(t, 0, c.StatusCallbackMaxRetries)
			}},
		{name: "a raw secret", env: map[string]string{"STATUS_CALLBACK_SECRET": "s3cret"},
			check: func(t *testing.T, c Config) { require.Equal(t, "s3cret", c.StatusCallbackSecret) }},
		{name: "dlr key is the api key", env: map[string]string{"DLR_AUTH_KEY": "api"}, wantErr: "DLR_AUTH_KEY must differ from API_KEY"},
		{name: "park ttl under a minute", env: map[string]string{"DLR_PARK_TTL": "5s"}, wantErr: "DLR_PARK_TTL"},
		{name: "callback url not http", env: map[string]string{"STATUS_CALLBACK_URL": "ftp://x/y"}, wantErr: "STATUS_CALLBACK_URL must be an absolute http or https URL"},
		{name: "callback url relative", env: map[string]string{"STATUS_CALLBACK_URL": "/cb"}, wantErr: "STATUS_CALLBACK_URL must be an absolute http or https URL"},
		{name: "secret whsec_ not base64", env: map[string]string{"STATUS_CALLBACK_SECRET": "whsec_!!!"}, wantErr: "STATUS_CALLBACK_SECRET must be whsec_ followed by base64"},
		{name: "max retries negative", env: map[string]string{"STATUS_CALLBACK_MAX_RETRIES": "-1"}, wantErr: "STATUS_CALLBACK_MAX_RETRIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(lookupFrom(minimal(tt.env)))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}
