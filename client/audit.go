package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/insiderone/ims"
)

// AuditFilter selects audit events. Every field is optional. It differs from
// ims.AuditFilter in its cursor, which on the wire is the opaque NextCursor
// string of the previous page.
type AuditFilter struct {
	Type      string    // an event type, e.g. ims.EventMessageSent
	MessageID string    // only the events of this message
	Since     time.Time // inclusive; zero = unbounded
	Until     time.Time // exclusive; zero = unbounded
	Limit     int       // page size; 0 = the server's default (50), at most 1000
	Cursor    string
}

func (f AuditFilter) query() url.Values {
	q := url.Values{}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	if f.MessageID != "" {
		q.Set("message_id", f.MessageID)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	setPage(q, f.Limit, f.Cursor)
	return q
}

// ListAudit returns one page of audit events, newest first.
func (c *Client) ListAudit(ctx context.Context, f AuditFilter) (ims.AuditPage, error) {
	var page ims.AuditPage
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/api/audit", query: f.query()}, &page)
	return page, err
}
