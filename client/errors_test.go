package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	imshttp "github.com/insiderone/ims/http"
)

// The client must read back every code the server can send.
func TestCodeForStatusInvertsServerMapping(t *testing.T) {
	t.Parallel()
	for _, code := range []string{ims.EINVALID, ims.ENOTFOUND, ims.ECONFLICT, ims.EUNAUTHORIZED, ims.EUNAVAILABLE, ims.EINTERNAL} {
		status := imshttp.ErrorStatusCode(ims.Errorf(code, "x"))
		require.Equal(t, code, codeForStatus(status), "status %d", status)
	}
	for status, code := range map[int]string{
		422: ims.EINVALID, 413: ims.EINVALID, 405: ims.EINVALID, 418: ims.EINVALID, 403: ims.EUNAUTHORIZED,
		429: ims.EUNAVAILABLE, 408: ims.EUNAVAILABLE, 502: ims.EUNAVAILABLE, 504: ims.EUNAVAILABLE,
		501: ims.EINTERNAL, 302: ims.EINTERNAL,
	} {
		require.Equal(t, code, codeForStatus(status), "status %d", status)
	}
}

// answer serves every request with one canned answer.
func answer(t *testing.T, status int, contentType, body string) *Client {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)
	c, err := New(ts.URL, WithAPIKey("k-secret-123"), WithHTTPClient(ts.Client()))
	require.NoError(t, err)
	return c
}

func TestNonIMSErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status      int
		contentType string
		body        string
		code        string
	}{
		{http.StatusBadGateway, "text/html", "<html>bad gateway</html>", ims.EUNAVAILABLE},
		{http.StatusInternalServerError, "text/plain", "oops", ims.EINTERNAL},
		{http.StatusServiceUnavailable, "application/json", `{"status":"draining"}`, ims.EUNAVAILABLE},
		{http.StatusNotFound, "application/json", ``, ims.ENOTFOUND},
		{http.StatusTeapot, "application/json", `[1,2]`, ims.EINVALID},
	}
	for _, tt := range tests {
		c := answer(t, tt.status, tt.contentType, tt.body)
		_, err := c.ListMessages(context.Background(), MessageFilter{})
		var e *ims.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, tt.code, e.Code)
		require.Contains(t, e.Message, "GET /api/messages")
		require.Contains(t, e.Message, http.StatusText(tt.status))
		require.Nil(t, e.Details)
	}
}

func TestErrorDetailsOfOtherShapes(t *testing.T) {
	t.Parallel()
	c := answer(t, http.StatusBadRequest, "application/json",
		`{"error":"unknown action","details":{"action":"must be one of: start, stop","accepted":["start","stop"]}}`)
	_, err := c.Start(context.Background())
	var e *ims.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "unknown action", e.Message)
	require.Equal(t, map[string]any{"action": "must be one of: start, stop", "accepted": []any{"start", "stop"}}, e.Details)
}

func TestUnexpectedSuccessBodies(t *testing.T) {
	t.Parallel()
	c := answer(t, http.StatusOK, "text/html", "<html>a captive portal</html>")
	_, err := c.ControlStatus(context.Background())
	require.ErrorContains(t, err, "GET /api/control: decode response")
	require.Equal(t, ims.EINTERNAL, ims.ErrorCode(err), "not an *ims.Error")

	c = answer(t, http.StatusOK, "application/json", `{"running":true,"interval":"soon"}`)
	_, err = c.ControlStatus(context.Background())
	require.ErrorContains(t, err, `interval "soon"`)

	c = answer(t, http.StatusOK, "application/json", `{"status":`)
	_, err = c.Health(context.Background())
	require.ErrorContains(t, err, "GET /api/health: decode response")
}

func TestResponseSizeIsBounded(t *testing.T) {
	t.Parallel()
	c := answer(t, http.StatusOK, "application/json", `{"messages":["`+strings.Repeat("x", maxResponseBytes)+`"]}`)
	_, err := c.ListMessages(context.Background(), MessageFilter{})
	require.ErrorContains(t, err, "GET /api/messages: response is larger than")
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	c, err := New(url, WithAPIKey("k-secret-123"))
	require.NoError(t, err)
	_, err = c.CancelMessage(context.Background(), "0195f0a4-7c3e-7000-8000-000000000000")
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "DELETE /api/messages/0195f0a4-7c3e-7000-8000-000000000000: "), err.Error())
	require.NotContains(t, err.Error(), "k-secret-123")
	var e *ims.Error
	require.False(t, errors.As(err, &e), "a transport error is not an API error")

	// The context ends a call, and the error says so.
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	c, err = New(slow.URL, WithHTTPClient(slow.Client()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Health(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "GET /api/health: ")
}

// Error answers are drained too, so the next call reuses the connection.
func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	c := answer(t, http.StatusNotFound, "application/json", `{"error":"message not found"}`+strings.Repeat(" ", 32<<10))
	var reused []bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) },
	})
	for range 3 {
		_, err := c.GetMessage(ctx, "0195f0a4-7c3e-7000-8000-000000000000")
		require.Equal(t, ims.ENOTFOUND, ims.ErrorCode(err))
	}
	require.Equal(t, []bool{false, true, true}, reused)
}
