package main

// The webhook receiver of the end-to-end tests: a sink.Sink behind a
// recorder that keeps every raw request (method, headers, body, answer),
// and an optional fault-injecting handler in between.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims/internal/sink"
)

// webhookRequest is one request as it reached the receiver, with the answer.
type webhookRequest struct {
	Seq        int // arrival order, from 1
	Method     string
	Path       string
	Header     http.Header
	Body       []byte
	Status     int       // 0 while unanswered or when the client left
	ReceivedAt time.Time // when its bytes arrived, not when its handler ran: rxstamp_linux_test.go
}

// Key is the request's Idempotency-Key.
func (r webhookRequest) Key() string { return r.Header.Get("Idempotency-Key") }

// receiverOptions shape the webhook receiver.
type receiverOptions struct {
	// Sink is the sink's behaviour (failure rate, latency...). KeepDeliveries
	// is always on.
	Sink sink.Config
	// Webhook, when set, sits between the recorder and the sink: it may
	// answer a request itself (fault injection for chosen phone numbers, see
	// faultsByPhone) or pass it on to next.
	Webhook func(next http.Handler) http.Handler
}

// receiver is the webhook receiver of a test: recorder → optional fault
// handler → sink. URL is what WEBHOOK_URL should be.
type receiver struct {
	URL  string
	Sink *sink.Sink

	mu       sync.Mutex
	requests []*webhookRequest
	inFlight int
}

// newReceiver starts a receiver on a loopback port; it stops when t ends,
// after anything registered later (such as the service) has stopped.
func newReceiver(t testing.TB, opts receiverOptions) *receiver {
	t.Helper()
	cfg := opts.Sink
	cfg.KeepDeliveries = true
	if cfg.AuthKey == "" {
		cfg.AuthKey = testWebhookKey
	}
	require.NoError(t, cfg.Validate())
	r := &receiver{Sink: sink.New(cfg)}
	var next http.Handler = r.Sink
	if opts.Webhook != nil {
		next = opts.Webhook(next)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r.URL = "http://" + ln.Addr().String() + "/webhook"

	srv := &http.Server{Handler: r.record(next), ReadHeaderTimeout: 10 * time.Second, ConnContext: withStampedConn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(stampedListener{ln})
	}()
	t.Cleanup(func() {
		r.Sink.Close() // releases held requests so Shutdown is prompt
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-done
	})
	return r
}

// record keeps every POST before passing it on, and its answer after.
func (r *receiver) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			next.ServeHTTP(w, req)
			return
		}
		arrived := arrivedAt(req.Context())
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := &webhookRequest{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(),
			Body: body, ReceivedAt: arrived}
		r.mu.Lock()
		r.requests = append(r.requests, rec)
		rec.Seq = len(r.requests)
		r.inFlight++
		r.mu.Unlock()

		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, req)

		r.mu.Lock()
		r.inFlight--
		if req.Context().Err() == nil {
			rec.Status = sw.status
		}
		r.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// all returns a copy of every request so far, in arrival order.
func (r *receiver) all() []webhookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]webhookRequest, len(r.requests))
	for i, rq := range r.requests {
		out[i] = *rq
	}
	return out
}

// requestsFor returns the requests that carried Idempotency-Key key.
func (r *receiver) requestsFor(key string) []webhookRequest {
	return slices.DeleteFunc(r.all(), func(rq webhookRequest) bool { return rq.Key() != key })
}

// received is how many requests arrived so far, answered or not.
func (r *receiver) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// pending is how many requests are being handled right now.
func (r *receiver) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight
}

// deliveries returns what the sink itself saw for key (the fault handler's
// own answers never reach it).
func (r *receiver) deliveries(key string) []sink.Delivery { return r.Sink.Received(key) }

// acceptedCount is how many times the sink accepted (2xx) key.
func (r *receiver) acceptedCount(key string) int {
	n := 0
	for _, d := range r.deliveries(key) {
		if d.Accepted() {
			n++
		}
	}
	return n
}

// faultRule answers the n-th request (from 1) for a phone number: status 0
// passes the request on to the sink, statusHang never answers (until the
// client gives up); retryAfter, when set, is sent as the Retry-After header.
type faultRule func(n int) (status int, retryAfter string)

// statusHang is the faultRule status of a request held without an answer.
const statusHang = -1

// maxHang bounds a held request, in case the client never gives up.
const maxHang = 30 * time.Second

// faults is a fault handler keyed by the "to" of the webhook body, so one
// receiver can fail some numbers in chosen ways while others go through.
type faults struct {
	mu    sync.Mutex
	rules map[string]faultRule
	seen  map[string]int
}

func newFaults() *faults {
	return &faults{rules: map[string]faultRule{}, seen: map[string]int{}}
}

// set installs or replaces the rule of phone; a nil rule removes it.
func (f *faults) set(phone string, rule faultRule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rule == nil {
		delete(f.rules, phone)
		return
	}
	f.rules[phone] = rule
}

// always fails every request with status.
func always(status int) faultRule {
	return func(int) (int, string) { return status, "" }
}

// firstThen fails the first request with status and Retry-After, then passes.
func firstThen(status int, retryAfter string) faultRule {
	return func(n int) (int, string) {
		if n == 1 {
			return status, retryAfter
		}
		return 0, ""
	}
}

// handler returns the fault handler in front of next.
func (f *faults) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			To string `json:"to"`
		}
		raw, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
		_ = json.Unmarshal(raw, &body)

		f.mu.Lock()
		f.seen[body.To]++
		n, rule := f.seen[body.To], f.rules[body.To]
		f.mu.Unlock()
		if rule != nil {
			status, retryAfter := rule(n)
			if status == statusHang {
				select {
				case <-r.Context().Done():
				case <-time.After(maxHang):
				}
				return
			}
			if status != 0 {
				if retryAfter != "" {
					w.Header().Set("Retry-After", retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = fmt.Fprintf(w, `{"error":"injected %d"}`, status)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
