package webhook

import (
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
func providerMessageID(body []byte) string {
	if len(body) == 0 {
		return ""
	}
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
