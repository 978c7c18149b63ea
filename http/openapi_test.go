package http

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// specOperations lists "METHOD /path" for every operation in the document.
func specOperations(t *testing.T, doc map[string]any) []string {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	require.True(t, ok, "paths")
	var ops []string
	for p, item := range paths {
		for method := range item.(map[string]any) {
			ops = append(ops, strings.ToUpper(method)+" "+p)
		}
	}
	sort.Strings(ops)
	return ops
}

// routeOperations lists the registered routes in OpenAPI path syntax.
func routeOperations(s *Server) []string {
	var ops []string
	for _, rt := range s.routes {
		p := strings.ReplaceAll(rt.pattern, "{$}", "") // "/{$}" is exactly "/"
		p = strings.ReplaceAll(p, "...}", "}")
		ops = append(ops, rt.method+" "+p)
	}
	sort.Strings(ops)
	return ops
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	for _, metrics := range []bool{false, true} {
		name := "without metrics"
		if metrics {
			name = "with metrics"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *setupOptions) {
				if metrics {
					o.deps.Metrics = http.NotFoundHandler()
				}
			})
			w := b.do(t, request{method: "GET", path: "/api/openapi.json", noAuth: true})
			doc := decode[map[string]any](t, w, http.StatusOK)

			spec, routes := specOperations(t, doc), routeOperations(b.srv)
			for _, op := range routes {
				require.Contains(t, spec, op, "route is served but not documented")
			}
			for _, op := range spec {
				require.Contains(t, routes, op, "operation is documented but not served")
			}
			require.Equal(t, metrics, slices.Contains(spec, "GET /metrics"))
		})
	}
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.do(t, request{method: "GET", path: "/api/openapi.json", noAuth: true})
	raw := w.Body.String()
	doc := decode[map[string]any](t, w, http.StatusOK)
	require.Equal(t, "3.0.3", doc["openapi"])
	require.Equal(t, "1.2.3", doc["info"].(map[string]any)["version"])

	t.Run("every $ref resolves", func(t *testing.T) {
		for _, m := range regexp.MustCompile(`"\$ref": "#/([^"]+)"`).FindAllStringSubmatch(raw, -1) {
			var node any = doc
			for _, part := range strings.Split(m[1], "/") {
				obj, ok := node.(map[string]any)
				require.True(t, ok, "ref %s", m[1])
				node, ok = obj[part]
				require.True(t, ok, "ref %s does not resolve", m[1])
			}
		}
	})
	t.Run("auth matches the route table", func(t *testing.T) {
		paths := doc["paths"].(map[string]any)
		for _, rt := range b.srv.routes {
			p := strings.ReplaceAll(rt.pattern, "{$}", "")
			op := paths[p].(map[string]any)[strings.ToLower(rt.method)].(map[string]any)
			security := op["security"].([]any)
			_, has401 := op["responses"].(map[string]any)["401"]
			if rt.pattern == "/api/delivery-reports" { // its own key, not the API key
				require.Equal(t, []any{map[string]any{"DlrKey": []any{}}}, security)
				require.True(t, has401)
				continue
			}
			require.Equal(t, rt.auth, len(security) > 0, "%s %s", rt.method, rt.pattern)
			require.Equal(t, rt.auth, has401, "%s %s", rt.method, rt.pattern)
		}
	})
	t.Run("path parameters are declared", func(t *testing.T) {
		for p, item := range doc["paths"].(map[string]any) {
			wild := regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(p, -1)
			for _, op := range item.(map[string]any) {
				params, _ := json.Marshal(op.(map[string]any)["parameters"])
				for _, wm := range wild {
					ok := strings.Contains(string(params), `"name":"`+wm[1]+`"`) ||
						(wm[1] == "id" && strings.Contains(string(params), "#/components/parameters/MessageID"))
					require.True(t, ok, "%s does not declare path parameter %s", p, wm[1])
				}
			}
		}
	})
	t.Run("api key security scheme", func(t *testing.T) {
		scheme := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)["ApiKey"].(map[string]any)
		require.Equal(t, "apiKey", scheme["type"])
		require.Equal(t, "header", scheme["in"])
		require.Equal(t, "Authorization", scheme["name"])
	})
}

// TestOpenAPIQueryParameters holds the document and parseQuery to one list
// per operation: every documented query parameter is accepted, any other is
// a 400 naming it.
func TestOpenAPIQueryParameters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := decode[map[string]any](t, b.do(t, request{method: "GET", path: "/api/openapi.json", noAuth: true}), http.StatusOK)
	components := doc["components"].(map[string]any)["parameters"].(map[string]any)
	id := "0190a0b0-0000-7000-8000-000000000000"
	for _, rt := range b.srv.routes {
		if !rt.auth {
			continue
		}
		path := strings.ReplaceAll(rt.pattern, "{id}", id)
		op := doc["paths"].(map[string]any)[rt.pattern].(map[string]any)[strings.ToLower(rt.method)].(map[string]any)
		var documented []string
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			pm := p.(map[string]any)
			if r, ok := pm["$ref"].(string); ok {
				pm = components[strings.TrimPrefix(r, "#/components/parameters/")].(map[string]any)
			}
			if pm["in"] == "query" {
				documented = append(documented, pm["name"].(string))
			}
		}
		t.Run(rt.method+" "+rt.pattern, func(t *testing.T) {
			t.Parallel()
			for _, name := range documented {
				w := b.do(t, request{method: rt.method, path: path + "?" + name + "="})
				if w.Code == http.StatusBadRequest {
					require.NotContains(t, w.Body.String(), "unknown query parameter", "documented %s is rejected", name)
				}
			}
			e := decode[apiError](t, b.do(t, request{method: rt.method, path: path + "?zz=1"}), http.StatusBadRequest)
			require.Contains(t, e.Details, "zz", "an undocumented parameter is a 400 naming it")
		})
	}
}

func TestOpenAPIAuditTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := decode[map[string]any](t, b.do(t, request{method: "GET", path: "/api/openapi.json", noAuth: true}), http.StatusOK)
	op := doc["paths"].(map[string]any)["/api/audit"].(map[string]any)["get"].(map[string]any)
	for _, p := range op["parameters"].([]any) {
		pm := p.(map[string]any)
		if pm["name"] == "type" {
			var got []string
			for _, v := range pm["schema"].(map[string]any)["enum"].([]any) {
				got = append(got, v.(string))
			}
			require.Equal(t, ims.EventTypes, got)
			return
		}
	}
	t.Fatal("GET /api/audit documents no type parameter")
}

// queue_mode documents the modes the server was told the engine runs
// (Config.QueueModes, from scheduler.Modes), so a new mode needs no edit here.
func TestOpenAPIQueueModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		modes []string
		want  map[string]any
	}{
		{"the engine's modes", []string{"db", "rabbitmq"}, map[string]any{"type": "string", "enum": []any{"db", "rabbitmq"}}},
		{"none given", nil, map[string]any{"type": "string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw, err := openAPIDocument("test", false, tt.modes)
			require.NoError(t, err)
			var doc map[string]any
			require.NoError(t, json.Unmarshal(raw, &doc))
			schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
			status := schemas["SchedulerStatus"].(map[string]any)["properties"].(map[string]any)
			require.Equal(t, tt.want, status["queue_mode"])
		})
	}
}
