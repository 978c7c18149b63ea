package http

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestCheckRawJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		problem string // "" = accepted
	}{
		{"plain", `{"a":"b"}`, ""},
		{"surrogate pair", `"\ud83d\ude00"`, ""},
		{"upper-case hex pair", `"\uD83D\uDE00"`, ""},
		{"BMP escape", `"\u00e9\u200b"`, ""},
		{"escaped backslash then u", `"\\ud800"`, ""},
		{"escaped backslash then escape", `"\\\ud83d\ude00"`, ""},
		{"truncated escape: the decoder reports it", `"\ud8`, ""},
		{"lone high", `"\ud800"`, "surrogate \\ud800 at offset 1"},
		{"lone high at the end of the body", `"\udbff`, "surrogate"},
		{"high then a letter escape", `"\ud800\u0041"`, "surrogate"},
		{"high then high", `"\ud800\ud800"`, "surrogate"},
		{"lone low", `"x\udc00"`, "surrogate \\udc00 at offset 2"},
		{"low then high", `"\udc00\ud800"`, "surrogate"},
		{"escaped backslash then lone escape", `"\\\ud800"`, "surrogate"},
		{"invalid byte", "\"a\xffb\"", "invalid byte at offset 2"},
		{"encoded surrogate", "\"\xed\xa0\x80\"", "UTF-8"},
		{"truncated rune", "\"\xc3\"", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkRawJSON([]byte(tt.raw))
			if tt.problem == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, ims.ErrorMessage(err), tt.problem)
			require.Equal(t, ims.EINVALID, ims.ErrorCode(err), "a 400")
		})
	}
}
