package http

import (
	_ "embed"
	"net/http"
)

// dashboardPage is the operator dashboard: one self-contained page, embedded
// beside the Swagger UI, that reads the JSON API with the key the operator
// types in (kept in the browser's sessionStorage, never sent anywhere else).
//
//go:embed dashboard/index.html
var dashboardPage []byte

// handleRoot serves the dashboard.
func (s *Server) handleRoot(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'")
	_, _ = w.Write(dashboardPage)
}
