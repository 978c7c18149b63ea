package stats

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// outcome builds a decided attempt of message id.
func outcome(id string, status int, errText string, decided ims.Status) ims.Outcome {
	return ims.Outcome{
		Claim:    ims.Claim{MessageID: id, Attempt: 1},
		Result:   ims.DeliveryResult{StatusCode: status, Err: errText},
		Decision: ims.Decision{Status: decided},
	}
}

var (
	sent     = outcome("m-ok", 202, "", ims.StatusSent)
	rejected = outcome("m-401", 401, "", ims.StatusDead)
	timedOut = outcome("m-slow", 0, "webhook request to http://127.0.0.1:9/webhook timed out after 2s", ims.StatusPending)
)

func TestOutcomesWebhookHealth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		attempts []ims.Outcome
		want     ims.WebhookHealth
	}{
		{"no attempts", nil, ims.WebhookHealth{Detail: "no delivery attempts in the last 5m0s"}},
		{"all succeeded", []ims.Outcome{sent, sent}, ims.WebhookHealth{Attempts: 2, Detail: "2 of 2 recent attempts succeeded"}},
		{"every attempt rejected", []ims.Outcome{rejected, rejected, rejected},
			ims.WebhookHealth{Degraded: true, Attempts: 3, Failures: 3, LastError: "HTTP 401", Detail: "3 of 3 recent attempts failed; last error: HTTP 401"}},
		{"most failed", []ims.Outcome{sent, rejected, timedOut},
			ims.WebhookHealth{Degraded: true, Attempts: 3, Failures: 2, LastError: "timeout", Detail: "2 of 3 recent attempts failed; last error: timeout"}},
		{"half failed is not most", []ims.Outcome{rejected, sent},
			ims.WebhookHealth{Attempts: 2, Failures: 1, LastError: "HTTP 401", Detail: "1 of 2 recent attempts succeeded; last error: HTTP 401"}},
		{"recovered: only the latest attempts count",
			append(repeat(rejected, 30), repeat(sent, 20)...),
			ims.WebhookHealth{Attempts: 20, Detail: "20 of 20 recent attempts succeeded"}},
		{"failing again after a good run",
			append(repeat(sent, 30), repeat(rejected, 11)...),
			ims.WebhookHealth{Degraded: true, Attempts: 20, Failures: 11, LastError: "HTTP 401", Detail: "11 of 20 recent attempts failed; last error: HTTP 401"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := NewOutcomes(OutcomesConfig{Clock: newClock().Now})
			for _, a := range tt.attempts {
				o.Observe(a)
			}
			require.Equal(t, tt.want, o.Webhook())
		})
	}
}

func repeat(o ims.Outcome, n int) []ims.Outcome {
	out := make([]ims.Outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

// TestOutcomesWindowAges: an outage that ended with the traffic does not
// keep the webhook degraded for ever.
func TestOutcomesWindowAges(t *testing.T) {
	t.Parallel()
	clk := newClock()
	o := NewOutcomes(OutcomesConfig{Clock: clk.Now, WindowMaxAge: time.Minute})
	o.Observe(rejected)
	require.True(t, o.Webhook().Degraded)
	clk.advance(59 * time.Second)
	o.Observe(sent)
	o.Observe(rejected)
	require.Equal(t, 3, o.Webhook().Attempts)
	clk.advance(2 * time.Second) // the first attempt is now older than a minute
	h := o.Webhook()
	require.Equal(t, 2, h.Attempts)
	require.False(t, h.Degraded)
	clk.advance(time.Minute)
	require.Equal(t, ims.WebhookHealth{Detail: "no delivery attempts in the last 1m0s"}, o.Webhook())
}

func TestOutcomesRates(t *testing.T) {
	t.Parallel()
	clk := newClock()
	o := NewOutcomes(OutcomesConfig{Clock: clk.Now})
	require.Equal(t, ims.DeliveryRates{Window: time.Minute}, o.Rates())

	for range 60 {
		o.Observe(sent)
	}
	for range 30 {
		o.Observe(timedOut)
	}
	o.Observe(rejected)
	clk.advance(30 * time.Second)
	for range 60 {
		o.Observe(sent)
	}
	require.Equal(t, ims.DeliveryRates{Window: time.Minute, Delivered: 2, Retried: 0.5, Dead: 1.0 / 60}, o.Rates())

	clk.advance(30 * time.Second) // the first second has left the window
	require.Equal(t, ims.DeliveryRates{Window: time.Minute, Delivered: 1}, o.Rates())
	clk.advance(time.Hour) // stale buckets never come back, even on the same index
	require.Equal(t, ims.DeliveryRates{Window: time.Minute}, o.Rates())
}

func TestReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    ims.DeliveryResult
		want string
	}{
		{"success", ims.DeliveryResult{StatusCode: 202}, ""},
		{"http status", ims.DeliveryResult{StatusCode: 401}, "HTTP 401"},
		{"server error", ims.DeliveryResult{StatusCode: 503}, "HTTP 503"},
		{"timeout", ims.DeliveryResult{Err: "webhook request to http://h/x timed out after 30s"}, "timeout"},
		{"refused", ims.DeliveryResult{Err: "webhook request to http://127.0.0.1:9/webhook failed: dial tcp 127.0.0.1:9: connect: connection refused"}, "connection refused"},
		{"reset, port in the text", ims.DeliveryResult{Err: "webhook request to http://h/x failed: read tcp 127.0.0.1:54321->127.0.0.1:9090: read: connection reset by peer"}, "connection reset"},
		{"dns", ims.DeliveryResult{Err: "webhook request to http://nope.invalid/x failed: dial tcp: lookup nope.invalid: no such host"}, "DNS lookup failed"},
		{"words in the url are ignored", ims.DeliveryResult{Err: "webhook request to http://geoffice.tls-timeout.example/x failed: something odd"}, "network error"},
		{"eof", ims.DeliveryResult{Err: "webhook request to http://h/x failed: EOF"}, "connection closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Reason(tt.r))
		})
	}
}
