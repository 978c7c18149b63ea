package http

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDocs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		path     string
		status   int
		ctype    string
		contains string
	}{
		{"/api/docs", http.StatusOK, "text/html; charset=utf-8", "/api/docs/swagger-ui-bundle.js"},
		{"/api/docs/index.html", http.StatusOK, "text/html; charset=utf-8", `<div id="swagger-ui">`},
		{"/api/docs/init.js", http.StatusOK, "text/javascript; charset=utf-8", `url: "/api/openapi.json"`},
		{"/api/docs/swagger-ui-bundle.js", http.StatusOK, "text/javascript; charset=utf-8", "SwaggerUIBundle"},
		{"/api/docs/swagger-ui.css", http.StatusOK, "text/css; charset=utf-8", ".swagger-ui"},
		{"/api/docs/favicon-32x32.png", http.StatusOK, "image/png", "PNG"},
		{"/api/docs/LICENSE", http.StatusOK, "text/plain; charset=utf-8", "Apache License"},
		{"/api/docs/missing.js", http.StatusNotFound, "application/json; charset=utf-8", "no docs asset"},
		// The mux redirects unclean paths; the redirect passes through untouched.
		{"/api/docs/..", http.StatusTemporaryRedirect, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			w := b.do(t, request{method: "GET", path: tt.path, noAuth: true})
			require.Equal(t, tt.status, w.Code)
			if tt.ctype != "" {
				require.Equal(t, tt.ctype, w.Header().Get("Content-Type"))
			}
			require.Contains(t, w.Body.String(), tt.contains)
		})
	}
}

func TestDocsPageLoadsOnlyLocalAssets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	page := b.do(t, request{method: "GET", path: "/api/docs", noAuth: true}).Body.String()
	require.NotContains(t, page, "http://")
	require.NotContains(t, page, "https://")
	for _, asset := range []string{"swagger-ui.css", "swagger-ui-bundle.js", "init.js", "favicon-32x32.png", "favicon-16x16.png"} {
		require.Contains(t, page, "/api/docs/"+asset)
		w := b.do(t, request{method: "GET", path: "/api/docs/" + asset, noAuth: true})
		require.Equal(t, http.StatusOK, w.Code, asset)
	}
}

func TestRoot(t *testing.T) {
	t.Parallel()
	t.Run("serves the dashboard", func(t *testing.T) {
		t.Parallel()
		w := setup(t).do(t, request{method: "GET", path: "/", noAuth: true})
		require.Equal(t, http.StatusOK, w.Code)
		require.Contains(t, w.Body.String(), "IMS console")
	})
	t.Run("metrics when configured", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(o *setupOptions) {
			o.deps.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ims_up 1")) })
		})
		w := b.do(t, request{method: "GET", path: "/metrics", noAuth: true})
		require.Equal(t, "ims_up 1", w.Body.String())
	})
	t.Run("no metrics route otherwise", func(t *testing.T) {
		t.Parallel()
		decode[apiError](t, setup(t).do(t, request{method: "GET", path: "/metrics", noAuth: true}), http.StatusNotFound)
	})
}
