package client

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewMessageQuietHoursOptOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   NewMessage
		want string
	}{
		{name: "honours quiet hours by default", in: NewMessage{PhoneNumber: "+905551234567", Content: "hi"},
			want: `{"phone_number":"+905551234567","content":"hi"}`},
		{name: "opts out", in: NewMessage{PhoneNumber: "+905551234567", Content: "hi", QuietHoursOptOut: true},
			want: `{"phone_number":"+905551234567","content":"hi","quiet_hours":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tt.in)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
}
