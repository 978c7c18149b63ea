package http

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHandlerServesThePage(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	(&Server{}).handleRoot(rec, httptest.NewRequest("GET", "/", nil))
	require.Equal(t, 200, rec.Code)
	require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	body := rec.Body.String()
	for _, want := range []string{"IMS dashboard", "/api/control", "/api/messages/dead-letter", "/api/audit", "/api/health", "/api/stats"} {
		require.Contains(t, body, want)
	}
	// The counts come from the cached JSON stats, not from scraping the
	// Prometheus text (which may not even be on this port: METRICS_ADDR).
	require.NotContains(t, body, `fetch("/metrics")`)
	require.NotContains(t, body, "ims_messages{")
	require.False(t, strings.Contains(body, "http://") || strings.Contains(body, "https://"), "the page loads nothing from outside")
}
