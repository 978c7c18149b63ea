package ims_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw, want string
	}{
		{"plain URL unchanged", "https://example.com/cb", "https://example.com/cb"},
		{"password masked", "postgres://ims:s3cret@db:5432/ims", "postgres://xxxxx@db:5432/ims"},
		{"token as user name masked", "https://tok3n@hooks.example.com/x", "https://xxxxx@hooks.example.com/x"},
		{"query elided", "https://example.com/cb?token=s3cret&x=1", "https://example.com/cb?…"},
		{"fragment dropped", "https://example.com/cb#s3cret", "https://example.com/cb"},
		{"driver options elided", "amqp://guest:guest@127.0.0.1:5672/?heartbeat=10", "amqp://xxxxx@127.0.0.1:5672/?…"},
		{"unparsable URL not echoed", "http://example.com/%zz?token=s3cret", "(unparsable URL)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ims.RedactURL(tt.raw)
			require.Equal(t, tt.want, got)
			require.NotContains(t, got, "s3cret")
		})
	}
}
