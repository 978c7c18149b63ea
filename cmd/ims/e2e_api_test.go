package main

// The IMS HTTP API as the end-to-end tests see it, and the waits on it.
//
// Waiting: every wait is eventually(...) on an observable condition with a
// generous bound; nothing sleeps to make something happen, and no test
// asserts how long something took.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
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
