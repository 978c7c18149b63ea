package main

// Helpers of the end-to-end suite, shared by every behaviour test of the
// package (in-process and real-binary). The pieces:
//
//   - backend / backends / forEachBackend: the storage and queue setups a
//     behaviour runs on ("sqlite", "postgres", "rabbitmq"), each a fresh
//     database (and queue topology) that exists only for the test.
//   - receiver: the webhook receiver (sink.Sink) behind a recorder that keeps
//     every raw request (method, headers, body, answer) and an optional
//     fault-injecting handler in between.
//   - apiClient: the IMS HTTP API as a client sees it (post, get, createMessage,
//     waitStatus, control, audit...).
//   - harness: IMS running in-process (NewMain on port 0) against a receiver,
//     with restart and direct store access.
//   - imsBinary / startIMS (e2e_process_helpers_test.go): the real binary.
//
// Waiting: every wait is eventually(...) on an observable condition with a
// generous bound; nothing sleeps to make something happen, and no test
// asserts how long something took.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/testenv"
	"github.com/insiderone/ims/sink"
)

// Bounds of the suite. They guard against hangs; they are not timing
// assertions, so they are generous for a loaded 2-core machine under -race.
const (
	waitTimeout = 45 * time.Second
	pollEvery   = 20 * time.Millisecond
)

// Keys of the harness: the API key and the webhook key differ on purpose, so
// a test notices if one is sent where the other belongs.
const (
	testAPIKey     = "e2e-api-key"
	testWebhookKey = "e2e-webhook-key"
)

// randomID returns n random bytes in hex, for unique names.
func randomID(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// eventually polls cond until it holds, failing t with what after
// waitTimeout. cond runs on the test goroutine, so it may use require.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for: %s", waitTimeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// ---------------------------------------------------------------------------
// Backends

// backend is one storage/queue setup of IMS.
type backend struct {
	name string
	// configure points cfg at a fresh database (and queue topology) that
	// exists only for t and is removed when t ends. It skips t when the
	// service is unreachable (and fails it when CI is set).
	configure func(t *testing.T, cfg *config.Config)
}

var (
	sqliteBackend = backend{name: "sqlite", configure: func(t *testing.T, cfg *config.Config) {
		cfg.DatabaseURL = ""
		cfg.SQLitePath = filepath.Join(t.TempDir(), "ims.db")
	}}
	postgresBackend = backend{name: "postgres", configure: func(t *testing.T, cfg *config.Config) {
		cfg.DatabaseURL = testenv.PostgresURL(t)
	}}
	rabbitmqBackend = backend{name: "rabbitmq", configure: func(t *testing.T, cfg *config.Config) {
		cfg.DatabaseURL = testenv.PostgresURL(t)
		cfg.RabbitMQEnabled = true
		cfg.RabbitMQURL = testenv.RabbitMQURL(t)
		cfg.RabbitMQPrefix = "ims-e2e-" + randomID(t, 6)
		cfg.RabbitMQPrefetch = 16
		cfg.RabbitMQHandoverLease = 10 * time.Second
		url, prefix := cfg.RabbitMQURL, cfg.RabbitMQPrefix
		// Registered before the service's own cleanup, so it runs after it.
		t.Cleanup(func() { deleteRabbitMQTopology(t, url, prefix) })
	}}
)

// backends is every setup a behaviour must hold on.
func backends() []backend { return []backend{sqliteBackend, postgresBackend, rabbitmqBackend} }

// processBackends are the setups the real-binary tests run on: the two
// databases (the queue mode changes nothing about a process's life cycle).
func processBackends() []backend { return []backend{sqliteBackend, postgresBackend} }

// forEachBackend runs test as a parallel subtest per backend, named after it.
// A behaviour is written once and holds for all of them.
func forEachBackend(t *testing.T, bs []backend, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// deleteRabbitMQTopology removes the exchanges and queues IMS declared under
// prefix (rabbitmq.Topology's names).
func deleteRabbitMQTopology(t *testing.T, url, prefix string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("delete RabbitMQ topology %s: %v", prefix, err)
		return
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("delete RabbitMQ topology %s: open channel: %v", prefix, err)
		return
	}
	defer func() { _ = ch.Close() }()
	for _, q := range []string{prefix + ".deliveries", prefix + ".dead-letters"} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("delete queue %s: %v", q, err)
		}
	}
	for _, x := range []string{prefix + ".work", prefix + ".dead"} {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Errorf("delete exchange %s: %v", x, err)
		}
	}
}

// baseConfig is the service configuration of the suite before the backend
// fills in the database: a fast pace, a short webhook timeout and short
// retry delays, so that retries happen in a fraction of a second of real
// time. webhookURL is the receiver.
func baseConfig(t testing.TB, webhookURL string) config.Config {
	return config.Config{
		SQLitePath:     filepath.Join(t.TempDir(), "ims.db"),
		WebhookURL:     webhookURL,
		WebhookAuthKey: testWebhookKey,
		WebhookTimeout: 2 * time.Second,
		MaxRetries:     2,
		RetryBaseDelay: 50 * time.Millisecond,
		RetryMaxDelay:  200 * time.Millisecond,

		APIKey:           testAPIKey,
		ServerPort:       0,
		MessageMaxLength: ims.DefaultMaxContentLength,
		SendAtHorizon:    ims.DefaultSendAtHorizon,

		SchedulerInterval:  100 * time.Millisecond,
		SchedulerBatchSize: 10,
		SchedulerAutoStart: true,
		WorkerConcurrency:  8,
		PollInterval:       50 * time.Millisecond,
		LeaderTTL:          time.Second,
		ShutdownTimeout:    5 * time.Second,
		InstanceID:         "e2e-" + randomID(t, 4),

		RabbitMQPrefetch:      16,
		RabbitMQHandoverLease: 10 * time.Second,
		RedisCacheTTL:         time.Hour,

		StatsRefresh: 100 * time.Millisecond,

		LogLevel:  "info",
		LogFormat: "text",
	}
}

// ---------------------------------------------------------------------------
// Logs

// logBuffer collects a test's service logs and prints them only when the
// test fails, so a green run is quiet and a red one explains itself. It
// never calls t.Log from the service's goroutines (that panics once the test
// has ended).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newLogBuffer(t testing.TB, name string) *logBuffer {
	l := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s logs ---\n%s", name, l.String())
		}
	})
	return l
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// ---------------------------------------------------------------------------
// Webhook receiver

// webhookRequest is one request as it reached the receiver, with the answer.
type webhookRequest struct {
	Seq        int // arrival order, from 1
	Method     string
	Path       string
	Header     http.Header
	Body       []byte
	Status     int // 0 while unanswered or when the client left
	ReceivedAt time.Time
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

	srv := &http.Server{Handler: r.record(next), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
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
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := &webhookRequest{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(),
			Body: body, ReceivedAt: time.Now()}
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

// ---------------------------------------------------------------------------
// API client

// apiClient calls the IMS API at BaseURL with APIKey.
type apiClient struct {
	BaseURL string
	APIKey  string
	client  *http.Client
}

func newAPIClient(t testing.TB, baseURL, apiKey string) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &apiClient{BaseURL: baseURL, APIKey: apiKey, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// apiResponse is an answer of the API.
type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// decode unmarshals the body into v, failing t if it is not JSON.
func (r apiResponse) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "decode %s", r.Body)
}

// headers of a request; the default Authorization is the API key, and a
// value of "" removes the header.
type headers map[string]string

// do sends one request. body is sent as is when it is a string or []byte,
// and as JSON otherwise (nil: no body).
func (a *apiClient) do(t testing.TB, method, path string, body any, h headers) apiResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.BaseURL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", a.APIKey)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := a.client.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

func (a *apiClient) get(t testing.TB, path string) apiResponse {
	t.Helper()
	return a.do(t, http.MethodGet, path, nil, nil)
}

func (a *apiClient) post(t testing.TB, path string, body any, h headers) apiResponse {
	t.Helper()
	return a.do(t, http.MethodPost, path, body, h)
}

// getOK gets path, requires 200 and decodes the answer into v.
func (a *apiClient) getOK(t testing.TB, path string, v any) {
	t.Helper()
	resp := a.get(t, path)
	require.Equal(t, http.StatusOK, resp.Status, "GET %s: %s", path, resp.Body)
	resp.decode(t, v)
}

// newMessage is the body of POST /api/messages.
type newMessage struct {
	PhoneNumber string `json:"phone_number"`
	Content     string `json:"content"`
	SendAt      string `json:"send_at,omitempty"`
}

// createMessage creates a message and requires 201.
func (a *apiClient) createMessage(t testing.TB, phone, content string) ims.Message {
	t.Helper()
	resp := a.post(t, "/api/messages", newMessage{PhoneNumber: phone, Content: content}, nil)
	require.Equal(t, http.StatusCreated, resp.Status, "create message: %s", resp.Body)
	var m ims.Message
	resp.decode(t, &m)
	require.NotEmpty(t, m.ID)
	return m
}

// createMessages creates n messages to phone, in order, and returns them.
func (a *apiClient) createMessages(t testing.TB, n int, phone string) []ims.Message {
	t.Helper()
	out := make([]ims.Message, n)
	for i := range out {
		out[i] = a.createMessage(t, phone, fmt.Sprintf("message %d of %d", i+1, n))
	}
	return out
}

// messageDetail is GET /api/messages/{id}.
type messageDetail struct {
	Message  ims.Message   `json:"message"`
	Attempts []ims.Attempt `json:"attempts"`
}

func (a *apiClient) message(t testing.TB, id string) messageDetail {
	t.Helper()
	var d messageDetail
	a.getOK(t, "/api/messages/"+id, &d)
	return d
}

// waitStatus waits until message id has status and returns it.
func (a *apiClient) waitStatus(t testing.TB, id string, status ims.Status) ims.Message {
	t.Helper()
	var m ims.Message
	eventually(t, fmt.Sprintf("message %s to be %s", id, status), func() bool {
		m = a.message(t, id).Message
		return m.Status == status
	})
	return m
}

// waitAllStatus waits until every message of msgs has status.
func (a *apiClient) waitAllStatus(t testing.TB, msgs []ims.Message, status ims.Status) {
	t.Helper()
	for _, m := range msgs {
		a.waitStatus(t, m.ID, status)
	}
}

// list returns GET /api/messages with query (e.g. "?status=pending"),
// following every page.
func (a *apiClient) list(t testing.TB, path string) []ims.Message {
	t.Helper()
	var all []ims.Message
	cursor := ""
	for {
		u := path + "?limit=1000"
		if strings.Contains(path, "?") {
			u = path + "&limit=1000"
		}
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var page ims.MessagePage
		a.getOK(t, u, &page)
		all = append(all, page.Messages...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// controlStatus is the answer of GET and POST /api/control.
type controlStatus struct {
	ims.SchedulerStatus
	Interval string `json:"interval"`
}

// control posts {"action": action} and requires 200.
func (a *apiClient) control(t testing.TB, action string) controlStatus {
	t.Helper()
	resp := a.post(t, "/api/control", map[string]string{"action": action}, nil)
	require.Equal(t, http.StatusOK, resp.Status, "control %s: %s", action, resp.Body)
	var st controlStatus
	resp.decode(t, &st)
	return st
}

// controlState is GET /api/control.
func (a *apiClient) controlState(t testing.TB) controlStatus {
	t.Helper()
	var st controlStatus
	a.getOK(t, "/api/control", &st)
	return st
}

// audit returns the audit events matching query (e.g.
// "message_id=<id>"), oldest first.
func (a *apiClient) audit(t testing.TB, query string) []ims.AuditEvent {
	t.Helper()
	var page ims.AuditPage
	a.getOK(t, "/api/audit?limit=1000&"+query, &page)
	slices.Reverse(page.Events)
	return page.Events
}

// auditTypes returns the types of the audit events matching query, oldest first.
func (a *apiClient) auditTypes(t testing.TB, query string) []string {
	t.Helper()
	var types []string
	for _, e := range a.audit(t, query) {
		types = append(types, e.Type)
	}
	return types
}

// idle lets the service run for at least d of real time while checking
// that it keeps answering. It is the one place where the suite lets time
// pass on purpose: to show that something does NOT happen (nothing is sent
// while stopped, nothing is sent twice after a restart). d should span
// several poll intervals.
func (a *apiClient) idle(t testing.TB, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		a.controlState(t)
		time.Sleep(pollEvery)
	}
}

// ---------------------------------------------------------------------------
// In-process harness

// harnessOptions shape a harness. The zero value is the suite's defaults.
type harnessOptions struct {
	// Configure adjusts the service settings after the defaults and the
	// backend's.
	Configure func(cfg *config.Config)
	// Receiver shapes the webhook receiver.
	Receiver receiverOptions
}

// harness is IMS running in-process against a receiver on one backend.
type harness struct {
	*apiClient
	*receiver
	Backend backend
	Config  config.Config
	Main    *Main

	logs *logBuffer
}

// newHarness starts IMS in-process (NewMain + Run on port 0) on a fresh
// database of backend b, delivering to a new receiver. Everything stops when
// t ends: the service first, then the receiver, then the database.
func newHarness(t *testing.T, b backend, opts harnessOptions) *harness {
	t.Helper()
	testenv.Integration(t, "IMS running in-process (end-to-end)")
	rcv := newReceiver(t, opts.Receiver)
	cfg := baseConfig(t, rcv.URL)
	b.configure(t, &cfg)
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	h := &harness{receiver: rcv, Backend: b, Config: cfg, logs: newLogBuffer(t, "IMS "+b.name)}
	h.start(t)
	return h
}

// start runs a new Main on h.Config and points the API client at it.
func (h *harness) start(t *testing.T) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMain(h.Config, logger)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		t.Fatalf("start IMS: %v", err)
	}
	h.Main = m
	t.Cleanup(func() { h.stop(t) })
	h.apiClient = newAPIClient(t, "http://"+m.Addr, h.Config.APIKey)
}

// stop closes the running Main, if any. Closing twice is a no-op.
func (h *harness) stop(t *testing.T) {
	t.Helper()
	if h.Main == nil {
		return
	}
	err := h.Main.Close()
	h.Main = nil
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("close IMS: %v", err)
	}
}

// restart shuts the service down gracefully and starts it again on the
// same database (and queue) as a new instance.
func (h *harness) restart(t *testing.T) {
	t.Helper()
	h.stop(t)
	h.Config.InstanceID = "e2e-" + randomID(t, 4)
	h.start(t)
}

// openTestStore opens (and migrates) the database cfg names, as the service
// would, for checks made while no service runs on it. It is closed when t
// ends.
func openTestStore(t *testing.T, cfg config.Config) ims.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// ---------------------------------------------------------------------------
// The real binary

// builtBinary is the ims binary the process tests run. It is built once per
// test run, on first use, and shared by every test of the package (a
// package-level value on purpose: building it per test would cost a
// compilation each time). TestMain removes it.
var builtBinary binaryBuild

type binaryBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// imsBinary returns the path of the ims binary, building it on first use.
// It is built with -race when the tests are, which also lets it reuse the
// packages the test build has already compiled.
func imsBinary(t testing.TB) string {
	t.Helper()
	testenv.Integration(t, "the ims binary")
	b := &builtBinary
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "ims-e2e-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "ims")
		args := []string{"build", "-o", b.path}
		if raceEnabled() {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", append(args, ".")...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build ./cmd/ims: %w\n%s", err, out)
		}
	})
	require.NoError(t, b.err)
	return b.path
}

// remove deletes the built binary, if any.
func (b *binaryBuild) remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// configEnv is cfg as the environment variables `ims serve` reads.
func configEnv(cfg config.Config) []string {
	env := map[string]string{
		"DATABASE_URL":             cfg.DatabaseURL,
		"SQLITE_PATH":              cfg.SQLitePath,
		"WEBHOOK_URL":              cfg.WebhookURL,
		"WEBHOOK_AUTH_KEY":         cfg.WebhookAuthKey,
		"WEBHOOK_SIGNING_SECRET":   cfg.WebhookSigningKey,
		"WEBHOOK_TIMEOUT":          cfg.WebhookTimeout.String(),
		"WEBHOOK_MAX_RETRIES":      strconv.Itoa(cfg.MaxRetries),
		"WEBHOOK_RETRY_BASE_DELAY": cfg.RetryBaseDelay.String(),
		"WEBHOOK_RETRY_MAX_DELAY":  cfg.RetryMaxDelay.String(),
		"API_KEY":                  cfg.APIKey,
		"SERVER_PORT":              strconv.Itoa(cfg.ServerPort),
		"MESSAGE_MAX_LENGTH":       strconv.Itoa(cfg.MessageMaxLength),
		"SEND_AT_HORIZON":          cfg.SendAtHorizon.String(),
		"SCHEDULER_INTERVAL":       cfg.SchedulerInterval.String(),
		"SCHEDULER_BATCH_SIZE":     strconv.Itoa(cfg.SchedulerBatchSize),
		"SCHEDULER_AUTO_START":     strconv.FormatBool(cfg.SchedulerAutoStart),
		"WORKER_CONCURRENCY":       strconv.Itoa(cfg.WorkerConcurrency),
		"POLL_INTERVAL":            cfg.PollInterval.String(),
		"LEADER_TTL":               cfg.LeaderTTL.String(),
		"SHUTDOWN_TIMEOUT":         cfg.ShutdownTimeout.String(),
		"INSTANCE_ID":              cfg.InstanceID,
		"RABBITMQ_ENABLED":         strconv.FormatBool(cfg.RabbitMQEnabled),
		"RABBITMQ_URL":             cfg.RabbitMQURL,
		"RABBITMQ_PREFIX":          cfg.RabbitMQPrefix,
		"RABBITMQ_PREFETCH":        strconv.Itoa(cfg.RabbitMQPrefetch),
		"RABBITMQ_HANDOVER_LEASE":  cfg.RabbitMQHandoverLease.String(),
		"REDIS_URL":                cfg.RedisURL,
		"REDIS_CACHE_TTL":          cfg.RedisCacheTTL.String(),
		"RETENTION_SENT":           cfg.RetentionSent.String(),
		"RETENTION_DEAD":           cfg.RetentionDead.String(),
		"RETENTION_AUDIT":          cfg.RetentionAudit.String(),
		"LOG_LEVEL":                cfg.LogLevel,
		"LOG_FORMAT":               cfg.LogFormat,
		"METRICS_ADDR":             cfg.MetricsAddr,
		"STATS_REFRESH":            cfg.StatsRefresh.String(),
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return out
}

// cleanEnv is a minimal environment for the binary, so that nothing of the
// developer's environment (a DATABASE_URL, say) leaks into a test.
func cleanEnv(t testing.TB, extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, extra...)
}

// cliResult is what a short-lived run of the binary produced.
type cliResult struct {
	ExitCode       int
	Stdout, Stderr string
}

// runCLI runs the binary to completion in an empty directory (no .env)
// with env, bounded by timeout.
func runCLI(t *testing.T, env []string, timeout time.Duration, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, imsBinary(t), args...)
	cmd.Dir, cmd.Env = t.TempDir(), env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "ims %v did not finish within %s; stderr:\n%s", args, timeout, stderr.String())
	res := cliResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run ims %v: %v", args, err)
	}
	return res
}

// imsProcess is `ims serve` running as a child process, with an API client
// at its address.
type imsProcess struct {
	*apiClient
	Config config.Config

	cmd      *exec.Cmd
	logs     *processLog
	exited   chan struct{}
	exitCode int
}

// startIMS runs `ims serve` configured by cfg (on port 0, logging JSON so
// that the test can read the address it listens on) and waits until it
// serves. The process is killed, if still running, when t ends.
func startIMS(t *testing.T, cfg config.Config) *imsProcess {
	t.Helper()
	cfg.ServerPort, cfg.LogFormat = 0, "json"
	p := &imsProcess{Config: cfg, exited: make(chan struct{})}
	p.logs = newProcessLog(t, "ims serve "+cfg.InstanceID)
	p.cmd = exec.Command(imsBinary(t), "serve")
	p.cmd.Dir, p.cmd.Env = t.TempDir(), cleanEnv(t, configEnv(cfg)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(t, p.cmd.Start())
	go func() {
		defer close(p.exited)
		_ = p.cmd.Wait()
		p.exitCode = p.cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})

	select {
	case addr := <-p.logs.addr:
		p.apiClient = newAPIClient(t, "http://"+addr, cfg.APIKey)
	case <-p.exited:
		t.Fatalf("ims serve exited with code %d before serving", p.exitCode)
	case <-time.After(waitTimeout):
		t.Fatalf("ims serve did not report its address within %s", waitTimeout)
	}
	return p
}

// signal sends sig to the process.
func (p *imsProcess) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
}

// kill9 kills the process with SIGKILL, as a crash would, and waits for it.
func (p *imsProcess) kill9(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	p.wait(t)
}

// wait waits for the process to exit and returns its exit code.
func (p *imsProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.exitCode
	case <-time.After(waitTimeout):
		t.Fatalf("ims serve did not exit within %s", waitTimeout)
		return -1
	}
}

// waitLeader waits until this process leads the fleet, i.e. its scheduler
// is the one that dispatches.
func (p *imsProcess) waitLeader(t *testing.T) {
	t.Helper()
	eventually(t, "instance "+p.Config.InstanceID+" to lead", func() bool {
		return p.controlState(t).IsLeader
	})
}

// processLog keeps a process's output, shows it when the test fails, and
// reports the address from the "IMS is serving" log line.
type processLog struct {
	logBuffer
	partial []byte
	addr    chan string
}

func newProcessLog(t testing.TB, name string) *processLog {
	l := &processLog{addr: make(chan string, 1)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", name, l.String())
		}
	})
	return l
}

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.scan(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
}

func (l *processLog) scan(line []byte) {
	var rec struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(line, &rec) == nil && rec.Msg == "IMS is serving" && rec.Addr != "" {
		select {
		case l.addr <- rec.Addr:
		default:
		}
	}
}

func (l *processLog) String() string { return l.logBuffer.String() }

// TestConfigEnvRoundTrip keeps configEnv in step with config.Load: the
// process tests would otherwise run the binary with settings other than
// the ones they think.
func TestConfigEnvRoundTrip(t *testing.T) {
	t.Parallel()
	want := baseConfig(t, "http://127.0.0.1:9/webhook")
	want.DatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres"
	want.WebhookSigningKey = "signing-secret"
	want.RabbitMQEnabled, want.RabbitMQURL, want.RabbitMQPrefix = true, "amqp://guest:guest@127.0.0.1:5672/", "ims-e2e"
	want.RedisURL = "redis://127.0.0.1:6379/0"
	want.MetricsAddr = "127.0.0.1:9100"

	env := map[string]string{}
	for _, kv := range configEnv(want) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	got, err := config.Load(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	require.NoError(t, err)
	require.Equal(t, want, got)
}
