package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHealthcheckAnswers: a 200 is healthy, a 503 is not and says which
// component is down, and a URL that is not IMS's /api/health is probed with
// a plain GET (docker-compose.yml asks the sink's /healthz).
func TestHealthcheckAnswers(t *testing.T) {
	t.Parallel()
	answers := map[string]struct {
		status int
		body   string
	}{
		"/ok/api/health":   {http.StatusOK, `{"status":"degraded","version":"v1","components":{"cache":{"status":"down","required":false,"error":"dial"}}}`},
		"/down/api/health": {http.StatusServiceUnavailable, `{"status":"down","version":"v1","components":{"database":{"status":"down","required":true,"error":"refused"}}}`},
		"/healthz":         {http.StatusOK, `{"status":"ok"}`},
		"/gone":            {http.StatusNotFound, `no such page`},
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			a.status = http.StatusTeapot
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	defer ts.Close()
	check := func(path string) (string, error) {
		var stdout bytes.Buffer
		err := runHealthcheck(context.Background(), []string{"-url", ts.URL + path}, &stdout, io.Discard)
		return stdout.String(), err
	}

	out, err := check("/ok/api/health")
	require.NoError(t, err, "degraded is healthy")
	require.Contains(t, out, `"status":"degraded"`)

	out, err = check("/down/api/health")
	require.ErrorContains(t, err, "service is down: database down")
	require.Contains(t, out, `"status":"down"`, "the report is printed")

	out, err = check("/healthz")
	require.NoError(t, err)
	require.Contains(t, out, `"status":"ok"`)

	_, err = check("/gone")
	require.ErrorContains(t, err, "answered HTTP 404")
}
