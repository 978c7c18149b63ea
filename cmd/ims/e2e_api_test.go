package main

// The IMS HTTP API as the end-to-end tests see it, and the waits on it.
//
// Every call goes through the public client (package client), as a user's
// program would; a helper fails the test on an error it does not expect.
// The one exception is raw: a request whose bytes, headers or status code
// are what the test is about (hostile bodies, an Authorization the client
// would never send, Idempotent-Replayed, /metrics).
//
// Waiting: every wait is eventually(...) on an observable condition with a
// generous bound; nothing sleeps to make something happen, and no test
// asserts how long something took.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
)

// Bounds of the suite. They guard against hangs; they are not timing
// assertions, so they are generous for a loaded 2-core machine under -race.
const (
	waitTimeout = 45 * time.Second
	pollEvery   = 20 * time.Millisecond
)

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

// apiClient is the API of the IMS at BaseURL.
type apiClient struct {
	BaseURL string
	APIKey  string
	// API is the public client with the API key; anonymous has none, as a
	// prober has none.
	API       *client.Client
	anonymous *client.Client
	http      *http.Client // for raw
}

func newAPIClient(t testing.TB, baseURL, apiKey string) *apiClient {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	api, err := client.New(baseURL, client.WithAPIKey(apiKey), client.WithHTTPClient(hc))
	require.NoError(t, err)
	anonymous, err := client.New(baseURL, client.WithHTTPClient(hc))
	require.NoError(t, err)
	return &apiClient{BaseURL: baseURL, APIKey: apiKey, API: api, anonymous: anonymous, http: hc}
}

// ---------------------------------------------------------------------------
// Raw requests

// rawResponse is an answer to raw.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// decode unmarshals the body into v, failing t if it is not JSON.
func (r rawResponse) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "decode %s", r.Body)
}

// headers of a raw request; the default Authorization is the API key as it
// is (no "Bearer"), and a value of "" removes the header.
type headers map[string]string

// raw sends one request with body exactly as given; a POST is sent as JSON,
// the empty body too.
func (a *apiClient) raw(t testing.TB, method, path, body string, h headers) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" || method == http.MethodPost {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, a.BaseURL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", a.APIKey)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := a.http.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// ---------------------------------------------------------------------------
// Messages

// createMessage creates a message and requires a new one.
func (a *apiClient) createMessage(t testing.TB, phone, content string) ims.Message {
	t.Helper()
	res, err := a.API.CreateMessage(t.Context(), client.NewMessage{PhoneNumber: phone, Content: content}, "")
	require.NoError(t, err, "create message")
	require.True(t, res.Created, "create message: a new message")
	require.NotEmpty(t, res.Message.ID)
	return res.Message
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

// message is GET /api/messages/{id}: the message, its attempts and its
// sent-cache entry.
func (a *apiClient) message(t testing.TB, id string) client.MessageDetail {
	t.Helper()
	d, err := a.API.GetMessage(t.Context(), id)
	require.NoError(t, err, "get message %s", id)
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

// messageList is GET /api/messages, of one status or ("") all, every page.
func (a *apiClient) messageList(t testing.TB, status ims.Status) []ims.Message {
	t.Helper()
	return allPages(t, a.API.ListMessages, client.MessageFilter{Status: status})
}

// sentList is GET /api/messages/sent, every page.
func (a *apiClient) sentList(t testing.TB) []ims.Message {
	t.Helper()
	return allPages(t, a.API.ListSent, client.MessageFilter{})
}

// deadLetterList is GET /api/messages/dead-letter, every page.
func (a *apiClient) deadLetterList(t testing.TB) []ims.Message {
	t.Helper()
	return allPages(t, a.API.ListDeadLetters, client.MessageFilter{})
}

// allPages follows list's pages of 1000 from the first to the last.
func allPages(t testing.TB, list func(context.Context, client.MessageFilter) (ims.MessagePage, error), f client.MessageFilter) []ims.Message {
	t.Helper()
	f.Limit = 1000
	var all []ims.Message
	for {
		page, err := list(t.Context(), f)
		require.NoError(t, err, "list messages")
		all = append(all, page.Messages...)
		if page.NextCursor == "" {
			return all
		}
		f.Cursor = page.NextCursor
	}
}

// countStatus is how many messages have status.
func (a *apiClient) countStatus(t testing.TB, status ims.Status) int {
	t.Helper()
	return len(a.messageList(t, status))
}

// waitAllSent waits until every one of n messages is sent, through one
// listing per poll rather than one request per message.
func (a *apiClient) waitAllSent(t testing.TB, n int) {
	t.Helper()
	eventually(t, "every message to be sent", func() bool { return a.countStatus(t, ims.StatusSent) == n })
}

// ---------------------------------------------------------------------------
// Control, audit, health, stats

// startScheduler is POST /api/control {"action":"start"}.
func (a *apiClient) startScheduler(t testing.TB) ims.SchedulerStatus {
	t.Helper()
	st, err := a.API.Start(t.Context())
	require.NoError(t, err, "start the scheduler")
	return st
}

// stopScheduler is POST /api/control {"action":"stop"}.
func (a *apiClient) stopScheduler(t testing.TB) ims.SchedulerStatus {
	t.Helper()
	st, err := a.API.Stop(t.Context())
	require.NoError(t, err, "stop the scheduler")
	return st
}

// controlState is GET /api/control.
func (a *apiClient) controlState(t testing.TB) ims.SchedulerStatus {
	t.Helper()
	st, err := a.API.ControlStatus(t.Context())
	require.NoError(t, err, "GET /api/control")
	return st
}

// audit returns the audit events f selects, oldest first.
func (a *apiClient) audit(t testing.TB, f client.AuditFilter) []ims.AuditEvent {
	t.Helper()
	f.Limit = 1000
	var events []ims.AuditEvent
	for e, err := range a.API.AllAudit(t.Context(), f) {
		require.NoError(t, err, "list audit events")
		events = append(events, e)
	}
	slices.Reverse(events)
	return events
}

// auditTypes returns the types of the audit events f selects, oldest first.
func (a *apiClient) auditTypes(t testing.TB, f client.AuditFilter) []string {
	t.Helper()
	var types []string
	for _, e := range a.audit(t, f) {
		types = append(types, e.Type)
	}
	return types
}

// healthReport is an answer of GET /api/health.
type healthReport struct {
	client.Health
	// Err is nil for a 200 (ok or degraded), and the EUNAVAILABLE
	// *ims.Error of a 503 (a required component down).
	Err error
}

// health asks GET /api/health without the API key, as a prober does, and
// requires a report: a 200, or a 503 that says what is down.
func (a *apiClient) health(t testing.TB) healthReport {
	t.Helper()
	h, err := a.anonymous.Health(t.Context())
	if err != nil {
		require.Equal(t, ims.EUNAVAILABLE, ims.ErrorCode(err), "GET /api/health: %v", err)
	}
	require.NotEmpty(t, h.Status, "GET /api/health: a report (%v)", err)
	return healthReport{Health: h, Err: err}
}

// stats is GET /api/stats.
func (a *apiClient) stats(t testing.TB) ims.Stats {
	t.Helper()
	st, err := a.API.Stats(t.Context())
	require.NoError(t, err, "GET /api/stats")
	return st
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
