package http

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestListByPhoneNumber(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const a, other = "+905551234567", "+14155550123"
	first := b.createMessage(t, a, "one")
	b.createMessage(t, other, "two")
	second := b.createMessage(t, a, "three")
	list := func(t *testing.T, query string) *httptest.ResponseRecorder {
		t.Helper()
		return b.do(t, request{method: "GET", path: "/api/messages?" + query})
	}

	t.Run("exact match, newest first, with the cursor", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"phone_number": {a}, "limit": {"1"}}
		page := decode[ims.MessagePage](t, list(t, q.Encode()), http.StatusOK)
		require.Len(t, page.Messages, 1)
		require.Equal(t, second.ID, page.Messages[0].ID)
		q.Set("cursor", page.NextCursor)
		page = decode[ims.MessagePage](t, list(t, q.Encode()), http.StatusOK)
		require.Len(t, page.Messages, 1)
		require.Equal(t, first.ID, page.Messages[0].ID)
	})
	t.Run("combines with status", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"phone_number": {other}, "status": {"pending"}}
		page := decode[ims.MessagePage](t, list(t, q.Encode()), http.StatusOK)
		require.Len(t, page.Messages, 1)
		q.Set("status", "sent")
		page = decode[ims.MessagePage](t, list(t, q.Encode()), http.StatusOK)
		require.Empty(t, page.Messages)
	})
	t.Run("not of E.164 shape is a 400", func(t *testing.T) {
		t.Parallel()
		tests := []struct{ name, raw string }{
			{"an unencoded plus arrives as a space", "phone_number=+905551234567"},
			{"no plus", "phone_number=905551234567"},
			{"letters", "phone_number=%2B90555abc"},
			{"too short", "phone_number=%2B1234"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := decode[apiError](t, list(t, tt.raw), http.StatusBadRequest)
				require.Contains(t, e.Details, "phone_number")
				require.Contains(t, e.Details["phone_number"], ims.PhoneShapeProblem, "the create path's rule and words")
			})
		}
	})
	t.Run("only on /api/messages", func(t *testing.T) {
		t.Parallel()
		rec := b.do(t, request{method: "GET", path: "/api/messages/sent?phone_number=%2B905551234567"})
		require.Equal(t, http.StatusBadRequest, rec.Code)
	})
}
