package webhook

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// stdBody is the reference: what encoding/json writes for the same body.
func stdBody(t testing.TB, to, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		To      string `json:"to"`
		Content string `json:"content"`
	}{to, content})
	require.NoError(t, err)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func FuzzAppendBody(f *testing.F) {
	for _, s := range []string{"", "hello", `"\`, "a\nb\tc\r", "\x00\x01\x1f\x7f", "\u2028\u2029", "ü👋", "a\xffb", "\xe2\x80", "<&>"} {
		f.Add("+905551112233", s)
	}
	f.Fuzz(func(t *testing.T, to, content string) {
		got := appendBody(nil, to, content)
		require.Equal(t, string(stdBody(t, to, content)), string(got))
	})
}

func TestBodySizeFitsCommonMessages(t *testing.T) {
	t.Parallel()
	to, content := "+905551112233", "Your code is 123456. Do not share it."
	buf := make([]byte, 0, bodySize(to, content))
	out := appendBody(buf, to, content)
	require.Equal(t, cap(buf), cap(out), "a message without escapes fits the first allocation")
}

const benchContent = "Merhaba! Your order #12345 has shipped and will arrive on Tuesday. Reply STOP to opt out. \"Thanks\""

func BenchmarkEncode(b *testing.B) {
	const to = "+905551112233"
	b.Run("appendBody", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = appendBody(make([]byte, 0, bodySize(to, benchContent)), to, benchContent)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(struct {
				To      string `json:"to"`
				Content string `json:"content"`
			}{to, benchContent})
		}
	})
}
