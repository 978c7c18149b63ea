package http

import (
	"embed"
	"mime"
	"net/http"
	"path"
)

// dashboardFiles are the operator console: one page and its script, style
// sheet and icon, plain files embedded beside the Swagger UI (no build
// step). The page reads the JSON API with the key the operator types in
// (kept in the browser's sessionStorage, sent only in the Authorization
// header).
//
//go:embed dashboard/index.html dashboard/console.js dashboard/console.css dashboard/favicon.svg
var dashboardFiles embed.FS

// dashboardCSP allows the console's own files only: no inline script, so
// text that slipped through unescaped still cannot run. Inline style
// attributes are allowed for the charts' colours.
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// handleRoot serves the console's page.
func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	s.serveDashboardFile(w, r, "index.html")
}

// handleConsoleAsset serves the console's other files.
func (s *Server) handleConsoleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "index.html" {
		http.Redirect(w, r, "/", http.StatusMovedPermanently)
		return
	}
	s.serveDashboardFile(w, r, name)
}

func (s *Server) serveDashboardFile(w http.ResponseWriter, r *http.Request, name string) {
	b, err := dashboardFiles.ReadFile("dashboard/" + path.Base(name))
	if err != nil || path.Base(name) != name {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	// no-cache: revalidated on every load, so a new binary's page is used
	// at once.
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(b)
}
