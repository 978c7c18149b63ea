package ims

import (
	"strconv"
	"time"
)

// DeliveryResult is what one webhook call produced. Exactly one of StatusCode
// (an HTTP answer arrived) or Err (no answer: network error, timeout) is set.
type DeliveryResult struct {
	StatusCode        int
	ProviderMessageID string
	Latency           time.Duration
	// Err describes a failure to get an answer. Never contains secrets.
	Err string
	// Response is a bounded snippet of the answer body.
	Response string
	// RetryAfter is the server's Retry-After on 429/503, zero when absent.
	RetryAfter time.Duration
}

// Succeeded reports whether the webhook accepted the message (any 2xx).
func (r DeliveryResult) Succeeded() bool {
	return r.Err == "" && r.StatusCode >= 200 && r.StatusCode < 300
}

// Permanent reports whether the failure can never succeed by retrying: a 4xx
// other than 408 (timeout), 425 (too early) and 429 (rate limited).
func (r DeliveryResult) Permanent() bool {
	if r.Err != "" || r.StatusCode < 400 || r.StatusCode >= 500 {
		return false
	}
	switch r.StatusCode {
	case 408, 425, 429:
		return false
	}
	return true
}

// ErrorText summarises a failed result for Message.LastError.
func (r DeliveryResult) ErrorText() string {
	if r.Err != "" {
		return r.Err
	}
	if r.Succeeded() {
		return ""
	}
	return "webhook answered HTTP " + itoa(r.StatusCode)
}

func itoa(n int) string { return strconv.Itoa(n) }
