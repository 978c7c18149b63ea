package http

import (
	"net/http"

	"github.com/insiderone/ims"
)

// maxAuditTypeLength bounds ?type=; event types are short dotted names.
const maxAuditTypeLength = 64

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request) {
	f, err := parseAuditFilter(r)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	page, err := s.deps.Audit.ListAudit(r.Context(), f)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if page.Events == nil {
		page.Events = []ims.AuditEvent{}
	}
	writeJSON(w, r, s.logger, http.StatusOK, page)
}

func parseAuditFilter(r *http.Request) (ims.AuditFilter, error) {
	q := r.URL.Query()
	f := ims.AuditFilter{Type: q.Get("type"), MessageID: q.Get("message_id")}
	if len(f.Type) > maxAuditTypeLength {
		return f, invalidParam("type", "is too long to be an event type")
	}
	if f.MessageID != "" && !validMessageID(f.MessageID) {
		return f, invalidParam("message_id", "must be a message ID (a UUID)")
	}
	var err error
	if f.Since, err = parseTime(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q, "until"); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, invalidParam("until", "must be after since")
	}
	if f.Limit, err = parseLimit(q, defaultListLimit); err != nil {
		return f, err
	}
	f.Before, err = parseAuditCursor(q)
	return f, err
}
