package webhook

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestProviderMessageID(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("7", 60_000)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"string id", `{"message":"Accepted","messageId":"prov-1"}`, "prov-1"},
		{"numeric id", `{"messageId":12345}`, "12345"},
		{"negative fraction", `{"messageId":-1.5e3}`, "-1.5e3"},
		{"no body", ``, ""},
		{"not JSON", `OK`, ""},
		{"null id", `{"messageId":null}`, ""},
		{"object id", `{"messageId":{"a":1}}`, ""},
		{"long string id is bounded", `{"messageId":"` + long + `"}`, long[:snippetBytes]},
		{"long numeric id is bounded like a string id", `{"messageId":` + long + `}`, long[:snippetBytes]},
		{"NUL in a string id", `{"messageId":"a\u0000b"}`, "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, providerMessageID([]byte(tt.body)))
		})
	}
}

// FuzzProviderMessageID: whatever a provider answers, the id is bounded,
// valid UTF-8 and free of NUL, so it always stores on PostgreSQL.
func FuzzProviderMessageID(f *testing.F) {
	for _, seed := range []string{
		`{"message":"Accepted","messageId":"prov-1"}`, `{"messageId":12345}`, `{"messageId":` + strings.Repeat("9", 2000) + `}`,
		`{"messageId":"` + strings.Repeat("ğ", 600) + `"}`, `{"messageId":"a\u0000b"}`, `{"messageId":"\ud800"}`,
		"{\"messageId\":\"\xff\xfe\"}", ``, `null`, `[]`, `{"messageId":true}`, `{"messageId":-0.5e-7}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id := providerMessageID(body)
		require.LessOrEqual(t, len(id), snippetBytes+utf8.UTFMax, "bounded")
		require.True(t, utf8.ValidString(id), "valid UTF-8")
		require.NotContains(t, id, "\x00", "PostgreSQL text holds no NUL")
		s := snippet(body)
		require.LessOrEqual(t, len(s), 3*snippetBytes, "a snippet is bounded too")
		require.True(t, utf8.ValidString(s))
		require.NotContains(t, s, "\x00")
	})
}

func BenchmarkProviderMessageID(b *testing.B) {
	body := []byte(`{"message":"Accepted","messageId":"6f1c8b9e-2a5d-4e3b-9c7a-1b2c3d4e5f60"}`)
	text := snippet(body)
	b.ReportAllocs()
	for b.Loop() {
		if providerMessageIDIn(body, text) == "" {
			b.Fatal("no id")
		}
	}
}

// FuzzProviderMessageIDMatchesEncodingJSON holds the hand-rolled scan to
// what encoding/json reads, for every input.
func FuzzProviderMessageIDMatchesEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`{"message":"Accepted","messageId":"prov-1"}`, `{"messageId":12345}`, ` { "messageId" : "x" } `,
		`{"MESSAGEID":"a","messageid":"b"}`, `{"messageId":"a","messageId":null}`, `{"a":{"messageId":"inner"}}`,
		`{"a":["}",{"b":"]"}],"messageId":"after"}`, `{"messageId":"a\"b"}`, `{"message\u0049d":"esc"}`,
		"{\"messageId\":\"\xff\xfe\"}", `{"meſſageId":"fold"}`, `[{"messageId":"x"}]`, `null`, `"messageId"`,
		`{"messageId":true}`, `{"messageId":-0.5e-7}`, `{"messageId":[1]}`, `{}`, `{"messageId":"a\u0000b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want := providerMessageIDJSON(body)
		require.Equal(t, want, providerMessageID(body), "%q", body)
		require.Equal(t, want, providerMessageIDIn(body, snippet(body)), "sharing the snippet: %q", body)
	})
}
