package http

import (
	"net/http"
	"strings"

	"github.com/insiderone/ims"
)

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
	q, err := parseQuery(r, "type", "message_id", "since", "until", "limit", "cursor")
	if err != nil {
		return ims.AuditFilter{}, err
	}
	f := ims.AuditFilter{Type: q.Get("type"), MessageID: q.Get("message_id")}
	if f.Type != "" && !ims.KnownEventType(f.Type) {
		return f, invalidParam("type", "must be one of: "+strings.Join(ims.EventTypes, ", "))
	}
	if f.MessageID != "" && !validMessageID(f.MessageID) {
		return f, invalidParam("message_id", "must be a message ID (a UUID)")
	}
	if f.Since, err = parseTime(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q, "until"); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, invalidParam("until", "must be after since")
	}
	if f.Limit, err = parseLimit(q, ims.DefaultPageLimit); err != nil {
		return f, err
	}
	f.Before, err = parseAuditCursor(q)
	return f, err
}
