package stats

import (
	"strconv"
	"strings"

	"github.com/insiderone/ims"
)

// Reason names why a webhook attempt failed in a few words: "HTTP 401",
// "timeout", "connection refused"... The set is small on purpose: it keys
// the log aggregation, and error texts carry addresses and ports that would
// make every failure a reason of its own. The full (redacted) text stays in
// the attempt record and the log line's example.
func Reason(r ims.DeliveryResult) string {
	if r.Err == "" {
		if r.Succeeded() {
			return ""
		}
		return "HTTP " + strconv.Itoa(r.StatusCode)
	}
	e := strings.ToLower(r.Err)
	// webhook.Client writes "webhook request to <url> failed: <cause>": look
	// at the cause only, a URL may contain any word. URLs hold no spaces, so
	// the phrases with spaces are safe to find anywhere.
	switch {
	case strings.Contains(e, " timed out after "):
		return "timeout"
	case strings.Contains(e, " canceled: "):
		return "canceled"
	}
	if _, cause, ok := strings.Cut(e, " failed: "); ok {
		e = cause
	}
	for _, c := range []struct{ needle, reason string }{
		{"timeout", "timeout"},
		{"deadline exceeded", "timeout"},
		{"connection refused", "connection refused"},
		{"connection reset", "connection reset"},
		{"no such host", "DNS lookup failed"},
		{"tls", "TLS error"},
		{"x509", "TLS error"},
		{"eof", "connection closed"},
	} {
		if strings.Contains(e, c.needle) {
			return c.reason
		}
	}
	return "network error"
}
