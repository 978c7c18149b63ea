package http

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestListAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m1 := b.createMessage(t, "+905551234567", "one")
	m2 := b.createMessage(t, "+905551234567", "two")
	decode[ims.Message](t, b.do(t, request{method: "DELETE", path: "/api/messages/" + m2.ID}), http.StatusOK)

	list := func(t *testing.T, q url.Values) ims.AuditPage {
		t.Helper()
		return decode[ims.AuditPage](t, b.do(t, request{method: "GET", path: "/api/audit?" + q.Encode()}), http.StatusOK)
	}
	types := func(p ims.AuditPage) []string {
		var out []string
		for _, e := range p.Events {
			out = append(out, e.Type+" "+e.MessageID)
		}
		return out
	}
	created, canceled := ims.EventMessageCreated, ims.EventMessageCanceled
	inRange := b.now.Add(-time.Minute).Format(time.RFC3339)
	after := b.now.Add(time.Minute).Format(time.RFC3339)
	tests := []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"all, newest first", url.Values{}, []string{canceled + " " + m2.ID, created + " " + m2.ID, created + " " + m1.ID}},
		{"by type", url.Values{"type": {canceled}}, []string{canceled + " " + m2.ID}},
		{"by message", url.Values{"message_id": {m1.ID}}, []string{created + " " + m1.ID}},
		{"since", url.Values{"since": {inRange}, "type": {created}}, []string{created + " " + m2.ID, created + " " + m1.ID}},
		{"since after everything", url.Values{"since": {after}}, nil},
		{"until before everything", url.Values{"until": {inRange}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, types(list(t, tt.query)))
		})
	}
	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		first := list(t, url.Values{"limit": {"2"}})
		require.Len(t, first.Events, 2)
		require.NotEmpty(t, first.NextCursor)
		second := list(t, url.Values{"limit": {"2"}, "cursor": {first.NextCursor}})
		require.Equal(t, []string{created + " " + m1.ID}, types(second))
		require.Empty(t, second.NextCursor)
	})
	t.Run("empty page is an empty array", func(t *testing.T) {
		t.Parallel()
		w := b.do(t, request{method: "GET", path: "/api/audit?message_id=0190a0b0-0000-7000-8000-000000000000"})
		require.JSONEq(t, `{"events":[]}`, w.Body.String())
	})
}

func TestListAuditRejectsBadQuery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name  string
		query url.Values
		param string
	}{
		{"bad since", url.Values{"since": {"yesterday"}}, "since"},
		{"bad until", url.Values{"until": {"2026-01-02"}}, "until"},
		{"until before since", url.Values{"since": {"2026-01-02T00:00:00Z"}, "until": {"2026-01-01T00:00:00Z"}}, "until"},
		{"bad message id", url.Values{"message_id": {"42"}}, "message_id"},
		{"bad cursor", url.Values{"cursor": {"abc"}}, "cursor"},
		{"negative cursor", url.Values{"cursor": {"-1"}}, "cursor"},
		{"bad limit", url.Values{"limit": {"5000"}}, "limit"},
		{"unknown type", url.Values{"type": {"nope"}}, "type"},
		{"NUL type", url.Values{"type": {"\x00"}}, "type"},
		{"invalid UTF-8 type", url.Values{"type": {"\xff"}}, "type"},
		{"NUL message id", url.Values{"message_id": {"\x00"}}, "message_id"},
		{"since past year 9999 in UTC", url.Values{"since": {"9999-12-31T23:59:59-23:59"}}, "since"},
		{"unknown parameter", url.Values{"actor": {"api:1"}}, "actor"},
		{"repeated parameter", url.Values{"type": {ims.EventMessageSent, ims.EventMessageDead}}, "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := decode[apiError](t, b.do(t, request{method: "GET", path: "/api/audit?" + tt.query.Encode()}), http.StatusBadRequest)
			require.Contains(t, e.Details, tt.param)
		})
	}
	t.Run("unknown type lists the known ones", func(t *testing.T) {
		t.Parallel()
		e := decode[apiError](t, b.do(t, request{method: "GET", path: "/api/audit?type=nope"}), http.StatusBadRequest)
		for _, typ := range ims.EventTypes {
			require.Contains(t, e.Details["type"], typ)
		}
	})
}
