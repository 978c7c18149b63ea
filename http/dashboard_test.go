package http

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDashboardFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name, path  string
		status      int
		contentType string
		contains    []string
	}{
		{"the page", "/", 200, "text/html; charset=utf-8", []string{"IMS console", "/console/console.js", "/console/console.css", "/console/favicon.svg"}},
		{"the script", "/console/console.js", 200, "text/javascript; charset=utf-8",
			[]string{"/api/console/stream", "/api/control", "/api/messages/dead-letter", "/api/audit", "sessionStorage", "function esc("}},
		{"the style sheet", "/console/console.css", 200, "text/css; charset=utf-8", []string{"prefers-color-scheme: dark"}},
		{"the icon", "/console/favicon.svg", 200, "image/svg+xml", []string{"<svg"}},
		{"no such file", "/console/nope.js", 404, "", nil},
		{"no way out of the directory", "/console/..%2fdashboard.go", 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, request{method: "GET", path: tt.path, noAuth: true})
			require.Equal(t, tt.status, rec.Code)
			if tt.status != http.StatusOK {
				return
			}
			require.Equal(t, tt.contentType, rec.Header().Get("Content-Type"))
			require.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self';", "no inline script")
			body := strings.ReplaceAll(rec.Body.String(), `xmlns="http://www.w3.org/2000/svg"`, "")
			for _, want := range tt.contains {
				require.Contains(t, body, want)
			}
			// The counts come from the cached JSON, never from scraping the
			// Prometheus text (which may not even be on this port).
			require.NotContains(t, body, `fetch("/metrics")`)
			require.False(t, strings.Contains(body, "http://") || strings.Contains(body, "https://"), "nothing loads from outside")
		})
	}
}
