package http

import (
	"embed"
	"net/http"
	"path"

	"github.com/insiderone/ims"
)

// swaggerUI holds the Swagger UI assets (see swaggerui/README.md), so the
// docs work offline.
//
//go:embed swaggerui
var swaggerUI embed.FS

// docsContentTypes are set explicitly: the embedded files have no mod time
// and the types should not depend on the machine's MIME tables.
var docsContentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".png":  "image/png",
	".txt":  "text/plain; charset=utf-8",
	".md":   "text/markdown; charset=utf-8",
	"":      "text/plain; charset=utf-8",
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(s.openapi) // a failed write means the client left
}

func (s *Server) handleDocsIndex(w http.ResponseWriter, r *http.Request) {
	s.serveDocsFile(w, r, "index.html")
}

func (s *Server) handleDocsAsset(w http.ResponseWriter, r *http.Request) {
	s.serveDocsFile(w, r, r.PathValue("file"))
}

func (s *Server) serveDocsFile(w http.ResponseWriter, r *http.Request, name string) {
	b, err := swaggerUI.ReadFile("swaggerui/" + path.Clean(name))
	ctype, known := docsContentTypes[path.Ext(name)]
	if err != nil || !known {
		writeError(w, r, s.logger, ims.Errorf(ims.ENOTFOUND, "no docs asset %q", name))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Assets change only with the binary; a short cache keeps upgrades visible.
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
