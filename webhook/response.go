package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// snippetBytes bounds DeliveryResult.Response: enough to see a provider's
// error message, small enough to store with every attempt.
const snippetBytes = 512

// snippet returns the first snippetBytes of body as valid UTF-8, cut on a
// rune boundary. NUL bytes are replaced too: PostgreSQL text rejects them
// and an attempt row must never fail to store because of what a server sent.
func snippet(body []byte) string {
	if len(body) > snippetBytes {
		cut := snippetBytes
		// Step back over continuation bytes so a rune is not split.
		for back := 0; back < utf8.UTFMax && cut > 0 && !utf8.RuneStart(body[cut]); back++ {
			cut--
		}
		body = body[:cut]
	}
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

// providerMessageID extracts messageId from {"message":"Accepted","messageId":"…"}.
// Anything else — no body, not JSON, no messageId — gives "": the provider
// sent no id, and IMS must never invent one. A numeric id is kept as its text.
// Either form is bounded to snippetBytes: a provider id is stored with the
// message, and an answer of 60,000 digits must not make it 60 kB.
//
// It runs once per delivery, so the usual answer is read without
// encoding/json's reflection: json.Valid checks the whole body (allocating
// nothing), then scanMessageID finds the top-level key. Whatever that scan
// does not take on — a key or an id with escapes, a non-ASCII key, invalid
// UTF-8 — goes to providerMessageIDJSON, and a fuzz test holds the two to
// the same answer for every input.
func providerMessageID(body []byte) string {
	return providerMessageIDIn(body, "")
}

// providerMessageIDIn is providerMessageID for a body whose snippet is
// text: when the id's bytes stand unchanged in text, the id is a substring
// of it, and the delivery allocates one string for both instead of two.
func providerMessageIDIn(body []byte, text string) string {
	if len(body) == 0 || !json.Valid(body) {
		return ""
	}
	start, end, ok := scanMessageID(body)
	if !ok {
		return providerMessageIDJSON(body)
	}
	return idFromRaw(body, start, end, text)
}

// idFromRaw is the id the raw JSON value body[start:end] stands for: a
// string without escapes (quotes included) or a number; other values give "".
func idFromRaw(body []byte, start, end int, text string) string {
	if start == end {
		return ""
	}
	switch body[start] {
	case '"':
		start, end = start+1, end-1
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return ""
	}
	// text is snippet(body): where it holds body's bytes as they are up to
	// the id's end, the id is already valid, NUL-free and bounded there.
	if end <= len(text) && string(body[:end]) == text[:end] {
		return text[start:end]
	}
	return snippet(body[start:end])
}

// providerMessageIDJSON is providerMessageID by encoding/json: the
// reference that scanMessageID answers like.
func providerMessageIDJSON(body []byte) string {
	var v struct {
		MessageID json.RawMessage `json:"messageId"`
	}
	if err := json.Unmarshal(body, &v); err != nil || len(v.MessageID) == 0 {
		return ""
	}
	switch v.MessageID[0] {
	case '"':
		var s string
		if json.Unmarshal(v.MessageID, &s) != nil {
			return ""
		}
		return snippet([]byte(s))
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return snippet(v.MessageID)
	}
	return ""
}

// scanMessageID returns where the raw value of the last top-level key that
// encoding/json would decode into a field tagged "messageId" (it matches
// names case-insensitively, and the last of duplicates wins) starts and
// ends, or start == end when there is none or the body is not an object.
// body must be valid JSON. ok is false when the answer needs encoding/json
// after all: a key with an escape or a non-ASCII byte (case folding beyond
// ASCII), or a string value with an escape or invalid UTF-8 (decoding it is
// encoding/json's job).
func scanMessageID(body []byte) (start, end int, ok bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return 0, 0, true // null, an array, a scalar: no messageId
	}
	i++
	for {
		i = skipSpace(body, i)
		if body[i] == '}' {
			return start, end, true
		}
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		kend := stringEnd(body, i)
		key := body[i+1 : kend-1]
		for _, b := range key {
			if b == '\\' || b >= utf8.RuneSelf {
				return 0, 0, false
			}
		}
		i = skipSpace(body, kend)
		i = skipSpace(body, i+1) // the colon
		vend := valueEnd(body, i)
		if bytes.EqualFold(key, messageIDKey) {
			start, end = i, vend
			if raw := body[i:vend]; raw[0] == '"' && (bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw)) {
				return 0, 0, false
			}
		}
		i = vend
	}
}

var messageIDKey = []byte("messageId")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' &&
		b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// maxRetryAfter bounds what a server may ask for; the domain caps it again.
const maxRetryAfter = 24 * time.Hour

// retryAfter parses a Retry-After value: delta-seconds or an HTTP-date
// (RFC 9110 §10.2.3), relative to now. Unparseable or past values give 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := at.Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// honoursRetryAfter lists the statuses whose Retry-After the retry policy uses.
func honoursRetryAfter(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}
