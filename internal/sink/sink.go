// Package sink is a local webhook receiver that answers like the SMS
// provider, for the demo, the benchmark and end-to-end tests: it accepts
// {"to","content"} with 202 {"message":"Accepted","messageId":"<uuid>"},
// can inject failures, latency and hangs, and counts what arrived per
// Idempotency-Key so that duplicate deliveries are measured, not guessed.
//
// Serve runs it for the `ims sink` subcommand, whose flags map one to one
// onto Config:
//
//	-addr 127.0.0.1:9090   listen address (Serve's addr)
//	-failure-rate 0        Config.FailureRate, 0..1
//	-fail-status 500       Config.FailStatus (429 or 503 to exercise Retry-After)
//	-retry-after 0s        Config.RetryAfter
//	-latency 0s            Config.Latency
//	-timeout-rate 0        Config.TimeoutRate, 0..1
//	-max-hang 5m           Config.MaxHang
//	-auth-key ""           Config.AuthKey (default: $WEBHOOK_AUTH_KEY)
//	-seed 1                Config.Seed
//
// Call Config.Validate on the parsed flags to report a bad value by name.
package sink

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Defaults for the zero values of Config.
const (
	DefaultFailStatus = http.StatusInternalServerError
	DefaultMaxHang    = 5 * time.Minute
)

// maxBodyBytes caps a request body: the provider's messages are short.
const maxBodyBytes = 1 << 20

// Config shapes how the sink answers. The zero value accepts everything at once.
type Config struct {
	// FailureRate is the share (0..1) of requests answered FailStatus.
	FailureRate float64
	// FailStatus is the status of an injected failure. Zero means 500.
	FailStatus int
	// Latency is added before every webhook answer.
	Latency time.Duration
	// TimeoutRate is the share (0..1) of requests that get no answer: the
	// sink holds them until the client gives up, the sink is closed (503),
	// or MaxHang passes (504). FailureRate+TimeoutRate must not exceed 1.
	TimeoutRate float64
	// MaxHang bounds a hang. Zero means DefaultMaxHang.
	MaxHang time.Duration
	// RetryAfter is sent, in whole seconds rounded up, with injected 429 and
	// 503 failures. Zero sends no Retry-After.
	RetryAfter time.Duration
	// AuthKey, when set, must match x-ins-auth-key or the answer is 401.
	AuthKey string
	// Seed makes fault injection reproducible: the n-th request to arrive
	// gets the same fate for the same seed.
	Seed int64
	// KeepDeliveries keeps every Delivery for Received. Leave it off for
	// long load runs, where memory would grow with every request.
	KeepDeliveries bool
	// OnDelivery, when set, is called for every webhook request once its
	// answer is decided and before it is written, so a client that has
	// its answer can rely on the call having happened. It runs on the
	// request's goroutine and must be fast and safe for concurrent use.
	OnDelivery func(Delivery)
	// Now is the clock for Delivery.ReceivedAt. Nil means time.Now.
	Now func() time.Time
}

// Validate reports a setting outside its range, naming it.
func (c Config) Validate() error {
	switch {
	case c.FailureRate < 0 || c.FailureRate > 1:
		return errors.New("failure rate must be between 0 and 1")
	case c.TimeoutRate < 0 || c.TimeoutRate > 1:
		return errors.New("timeout rate must be between 0 and 1")
	case c.FailureRate+c.TimeoutRate > 1:
		return errors.New("failure rate plus timeout rate must not exceed 1")
	case c.FailStatus != 0 && (c.FailStatus < 100 || c.FailStatus > 599):
		return errors.New("fail status must be an HTTP status code (100-599)")
	case c.Latency < 0 || c.MaxHang < 0 || c.RetryAfter < 0:
		return errors.New("latency, max hang and retry-after must not be negative")
	}
	return nil
}

// Delivery is one webhook request as the sink saw and answered it.
type Delivery struct {
	Seq     uint64 `json:"seq"` // arrival order, from 1
	Key     string `json:"key"` // Idempotency-Key, "" when absent
	To      string `json:"to"`
	Content string `json:"content"`
	// Status is the HTTP status answered; 0 when the client gave up first.
	Status int `json:"status"`
	// MessageID is the messageId answered with a 2xx.
	MessageID  string    `json:"message_id,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// Accepted reports whether the sink answered 2xx.
func (d Delivery) Accepted() bool { return d.Status >= 200 && d.Status < 300 }

// Sink is the receiver: an http.Handler. Webhook requests are POSTs to any
// path; GET /stats serves Stats as JSON and GET /healthz answers 200.
type Sink struct {
	cfg       Config
	now       func() time.Time
	seq       atomic.Uint64
	keys      *keyTable
	counts    counters
	closed    chan struct{}
	closeOnce sync.Once
	bufs      sync.Pool // *bytes.Buffer for request bodies
	// sleep waits d unless ctx ends or the sink closes first; tests swap it
	// to observe the latency asked for without waiting for it.
	sleep func(ctx context.Context, d time.Duration) bool
}

// New returns a Sink. Out-of-range settings are clamped (call
// Config.Validate first to reject them instead).
func New(cfg Config) *Sink {
	cfg = clamp(cfg)
	s := &Sink{cfg: cfg, now: cfg.Now, keys: newKeyTable(maphash.MakeSeed()), closed: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	s.sleep = s.wait
	s.bufs.New = func() any { return new(bytes.Buffer) }
	return s
}

func clamp(c Config) Config {
	c.FailureRate = min(max(c.FailureRate, 0), 1)
	c.TimeoutRate = min(max(c.TimeoutRate, 0), 1-c.FailureRate)
	if c.FailStatus < 100 || c.FailStatus > 599 {
		c.FailStatus = DefaultFailStatus
	}
	if c.MaxHang <= 0 {
		c.MaxHang = DefaultMaxHang
	}
	c.Latency = max(c.Latency, 0)
	c.RetryAfter = max(c.RetryAfter, 0)
	return c
}

// Close releases requests held by a hang (they are answered 503) and makes
// later hangs end at once, so that an http.Server can shut down promptly.
func (s *Sink) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// ServeHTTP routes by hand: the webhook path is any path, so a mux buys
// nothing, and this runs for every request of a load test.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost:
		s.serveWebhook(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/stats":
		writeJSON(w, http.StatusOK, s.Stats())
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	default:
		w.Header().Set("Allow", "POST, GET")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "POST a webhook, or GET /stats or /healthz"})
	}
}

type errorBody struct {
	Error string `json:"error"`
}

// webhookBody is the contract's request body.
type webhookBody struct {
	To      string `json:"to"`
	Content string `json:"content"`
}

func (s *Sink) serveWebhook(w http.ResponseWriter, r *http.Request) {
	d := Delivery{Seq: s.seq.Add(1), Key: r.Header.Get("Idempotency-Key"), ReceivedAt: s.now()}
	s.counts.received.Add(1)

	status, msg := s.judge(r, &d)
	if status == http.StatusAccepted {
		d.MessageID = uuid.NewString()
	}
	d.Status = status
	s.record(d)
	if status == 0 {
		return // the client left; there is no one to answer
	}
	s.answer(w, d, msg)
}

// judge reads the request and decides the status to answer (0: none, the
// client gave up) and, for errors, the message.
func (s *Sink) judge(r *http.Request, d *Delivery) (int, string) {
	if s.cfg.AuthKey != "" &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get("x-ins-auth-key")), []byte(s.cfg.AuthKey)) != 1 {
		s.counts.unauthorized.Add(1)
		return http.StatusUnauthorized, "invalid x-ins-auth-key"
	}
	body, err := s.readBody(r)
	if err != nil {
		s.counts.badRequests.Add(1)
		return http.StatusBadRequest, `body must be JSON {"to": "...", "content": "..."}`
	}
	d.To, d.Content = body.To, body.Content

	if s.cfg.Latency > 0 && !s.sleep(r.Context(), s.cfg.Latency) {
		return s.interrupted(r.Context())
	}
	switch s.fate(d.Seq) {
	case fateFail:
		s.counts.failures.Add(1)
		return s.cfg.FailStatus, "injected failure"
	case fateHang:
		s.counts.timeouts.Add(1)
		if !s.sleep(r.Context(), s.cfg.MaxHang) {
			return s.interrupted(r.Context())
		}
		return http.StatusGatewayTimeout, "injected timeout: held for the maximum hang"
	}
	return http.StatusAccepted, ""
}

// readBody decodes the contract's body through a pooled buffer: reading
// is per request, and io.ReadAll would allocate and grow a new slice each time.
func (s *Sink) readBody(r *http.Request) (webhookBody, error) {
	buf := s.bufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 { // an oversized body must not pin its memory
			s.bufs.Put(buf)
		}
	}()
	buf.Reset()
	var body webhookBody
	if _, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, maxBodyBytes)); err != nil {
		return body, fmt.Errorf("read body: %w", err)
	}
	if err := json.Unmarshal(buf.Bytes(), &body); err != nil {
		return body, fmt.Errorf("decode body: %w", err)
	}
	return body, nil
}

// interrupted gives the status for a wait cut short: none when the client
// left, 503 when the sink is closing.
func (s *Sink) interrupted(ctx context.Context) (int, string) {
	if ctx.Err() != nil {
		return 0, ""
	}
	return http.StatusServiceUnavailable, "sink shutting down"
}

// wait is the real sleep: false when ctx ends or the sink closes first.
func (s *Sink) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}

func (s *Sink) answer(w http.ResponseWriter, d Delivery, msg string) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	if d.Accepted() {
		// Hand-built: this is the answer to almost every request of a load test.
		out := make([]byte, 0, 80)
		out = append(out, `{"message":"Accepted","messageId":"`...)
		out = append(out, d.MessageID...)
		out = append(out, `"}`...)
		w.WriteHeader(d.Status)
		_, _ = w.Write(out)
		return
	}
	if (d.Status == http.StatusTooManyRequests || d.Status == http.StatusServiceUnavailable) && s.cfg.RetryAfter > 0 {
		secs := int64((s.cfg.RetryAfter + time.Second - 1) / time.Second)
		h["Retry-After"] = []string{strconv.FormatInt(secs, 10)}
	}
	writeJSON(w, d.Status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
