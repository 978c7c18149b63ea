package config

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestLoadSMS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c SMS)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c SMS) {
			require.Equal(t, 0, c.MaxSegments)
			require.Equal(t, ims.PhoneE164, c.PhoneValidation)
			require.Equal(t, ims.RateUnitMessages, c.RateUnit)
			require.False(t, c.QuietHours.Enabled())
			require.Equal(t, "UTC", c.QuietHours.Location("").String())
		}},
		{name: "every setting", env: map[string]string{
			"MESSAGE_MAX_SEGMENTS": "3", "PHONE_VALIDATION": "strict", "WEBHOOK_RATE_UNIT": "segments",
			"QUIET_HOURS": "21:00-08:00", "QUIET_HOURS_DEFAULT_TZ": "Europe/Istanbul", "QUIET_HOURS_HIGH": "true",
		}, check: func(t *testing.T, c SMS) {
			require.Equal(t, 3, c.MaxSegments)
			require.Equal(t, ims.PhoneStrict, c.PhoneValidation)
			require.Equal(t, ims.RateUnitSegments, c.RateUnit)
			require.True(t, c.QuietHours.Enabled())
			require.Equal(t, "21:00-08:00", c.QuietHours.String())
			require.Equal(t, "Europe/Istanbul", c.QuietHours.Location("").String())
			require.True(t, c.QuietHours.High)
		}},
		{name: "negative segments", env: map[string]string{"MESSAGE_MAX_SEGMENTS": "-1"}, wantErr: "MESSAGE_MAX_SEGMENTS must be an integer from 0 to 255"},
		{name: "too many segments", env: map[string]string{"MESSAGE_MAX_SEGMENTS": "256"}, wantErr: "MESSAGE_MAX_SEGMENTS must be an integer from 0 to 255"},
		{name: "bad phone validation", env: map[string]string{"PHONE_VALIDATION": "loose"}, wantErr: "PHONE_VALIDATION must be one of e164, strict"},
		{name: "bad rate unit", env: map[string]string{"WEBHOOK_RATE_UNIT": "bytes"}, wantErr: "WEBHOOK_RATE_UNIT must be one of messages, segments"},
		{name: "bad window", env: map[string]string{"QUIET_HOURS": "9pm-8am"}, wantErr: "QUIET_HOURS must be a local-time window HH:MM-HH:MM"},
		{name: "bad zone", env: map[string]string{"QUIET_HOURS": "21:00-08:00", "QUIET_HOURS_DEFAULT_TZ": "Istanbul"}, wantErr: "QUIET_HOURS_DEFAULT_TZ must be an IANA time zone"},
		{name: "bad high", env: map[string]string{"QUIET_HOURS_HIGH": "sometimes"}, wantErr: "QUIET_HOURS_HIGH must be true or false"},
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
			tt.check(t, c.SMS)
		})
	}
}
