package http

import "net/http"

// route is one line of the route table. The table is data so that the
// OpenAPI test can compare it with the document, both ways.
type route struct {
	method  string
	pattern string // a Go 1.22 ServeMux path pattern
	auth    bool   // requires the API key
	handler http.HandlerFunc
}

// routeTable lists every route IMS serves. Go's ServeMux picks the most
// specific pattern, so /api/messages/sent wins over /api/messages/{id}.
func (s *Server) routeTable() []route {
	rs := []route{
		{"GET", "/api/health", false, s.handleHealth},
		{"GET", "/api/openapi.json", false, s.handleOpenAPI},
		{"GET", "/api/docs", false, s.handleDocsIndex},
		{"GET", "/api/docs/{file}", false, s.handleDocsAsset},

		{"POST", "/api/messages", true, s.handleCreateMessage},
		{"GET", "/api/messages", true, s.handleListMessages},
		{"POST", "/api/messages/batch", true, s.handleCreateBatch},
		{"GET", "/api/messages/sent", true, s.handleListSent},
		{"GET", "/api/messages/dead-letter", true, s.handleListDead},
		{"POST", "/api/messages/dead-letter/retry", true, s.handleReplayDeadLetters},
		{"GET", "/api/messages/{id}", true, s.handleGetMessage},
		{"DELETE", "/api/messages/{id}", true, s.handleCancelMessage},
		{"POST", "/api/messages/{id}/retry", true, s.handleReplayMessage},

		{"GET", "/api/control", true, s.handleGetControl},
		{"POST", "/api/control", true, s.handlePostControl},

		{"GET", "/api/audit", true, s.handleListAudit},

		{"GET", "/api/stats", true, s.handleStats},
		{"GET", "/api/console", true, s.handleConsole},
		{"GET", "/api/console/stream", true, s.handleConsoleStream},

		// The provider's receipts: authenticated with DLR_AUTH_KEY, not the API key.
		{"POST", "/api/delivery-reports", false, s.handleDeliveryReports},

		{"GET", "/{$}", false, s.handleRoot},
		{"GET", "/console/{file}", false, s.handleConsoleAsset},
	}
	if s.deps.Metrics != nil {
		rs = append(rs, route{"GET", "/metrics", false, s.deps.Metrics.ServeHTTP})
	}
	return rs
}
