package http

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

const testDLRKey = "test-dlr-key"

func withDLR(so *setupOptions) {
	so.cfg.DLRAuthKey = testDLRKey
}

// sentWithProviderID creates a message and delivers it with provider id pid.
func (b *bundle) sentWithProviderID(t *testing.T, pid string) ims.Message {
	t.Helper()
	m := b.createMessage(t, "+905551234567", "hello "+pid)
	b.finish(t, m, ims.StatusSent, ims.DeliveryResult{StatusCode: 202, ProviderMessageID: pid})
	return m
}

func dlrRequest(body string) request {
	return request{method: "POST", path: "/api/delivery-reports", body: body, noAuth: true,
		headers: map[string]string{DLRAuthHeader: testDLRKey}}
}

func TestDeliveryReportsAuth(t *testing.T) {
	t.Parallel()
	body := `{"messageId": "p-1", "status": "delivered"}`
	tests := []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"x-ins-auth-key", map[string]string{DLRAuthHeader: testDLRKey}, http.StatusAccepted},
		{"Authorization bearer", map[string]string{"Authorization": "Bearer " + testDLRKey}, http.StatusAccepted},
		{"Authorization plain", map[string]string{"Authorization": testDLRKey}, http.StatusAccepted},
		{"missing", nil, http.StatusUnauthorized},
		{"wrong", map[string]string{DLRAuthHeader: "nope"}, http.StatusUnauthorized},
		{"the API key is not the DLR key", map[string]string{"Authorization": testKey}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withDLR)
			b.srv.deps.Reports = b.store
			w := b.do(t, request{method: "POST", path: "/api/delivery-reports", body: body, noAuth: true, headers: tt.headers})
			require.Equal(t, tt.status, w.Code, w.Body.String())
		})
	}
}

func TestDeliveryReportsDisabled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.deps.Reports = b.store
	e := decode[apiError](t, b.do(t, dlrRequest(`{"messageId": "p", "status": "delivered"}`)), http.StatusServiceUnavailable)
	require.Contains(t, e.Error, "DLR_AUTH_KEY")
}

func TestDeliveryReports(t *testing.T) {
	t.Parallel()
	t.Run("one report applies to the sent message, a repeat is ignored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withDLR)
		b.srv.deps.Reports = b.store
		m := b.sentWithProviderID(t, "prov-1")
		body := `{"messageId": "prov-1", "status": "failed", "error_code": "EC1", "timestamp": "2026-01-02T15:04:00Z", "extra": "ignored"}`
		got := decode[deliveryReportsResponse](t, b.do(t, dlrRequest(body)), http.StatusOK)
		require.Equal(t, 1, got.Applied)
		require.Equal(t, m.ID, got.Reports[0].MessageID)
		got = decode[deliveryReportsResponse](t, b.do(t, dlrRequest(body)), http.StatusOK)
		require.Equal(t, 1, got.Ignored)
		require.Equal(t, ims.ReportDuplicate, got.Reports[0].Outcome)

		msg := decode[messageDetail](t, b.do(t, request{method: "GET", path: "/api/messages/" + m.ID}), http.StatusOK).Message
		require.Equal(t, ims.StatusSent, msg.Status)
		require.Equal(t, ims.DeliveryUndelivered, msg.DeliveryStatus)
		require.Equal(t, "EC1", msg.ErrorCode)

		page := decode[ims.MessagePage](t, b.do(t, request{method: "GET", path: "/api/messages?delivery_status=undelivered"}), http.StatusOK)
		require.Len(t, page.Messages, 1)
		page = decode[ims.MessagePage](t, b.do(t, request{method: "GET", path: "/api/messages?delivery_status=delivered"}), http.StatusOK)
		require.Empty(t, page.Messages)
	})
	t.Run("an array, with an unknown id, answers 202", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withDLR)
		b.srv.deps.Reports = b.store
		var observed []ims.ReportResult
		b.srv.deps.ObserveReports = func(rs []ims.ReportResult) { observed = append(observed, rs...) }
		b.sentWithProviderID(t, "prov-2")
		got := decode[deliveryReportsResponse](t, b.do(t, dlrRequest(
			`[{"messageId": "prov-2", "status": "delivered"}, {"messageId": "who", "status": "DELIVERED"}]`)), http.StatusAccepted)
		require.Equal(t, 1, got.Applied)
		require.Equal(t, 1, got.Parked)
		require.Len(t, observed, 2)
	})
	t.Run("bad input is a 4xx and stores nothing", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name   string
			body   string
			status int
			detail string
		}{
			{"not json", `{"messageId":`, http.StatusBadRequest, ""},
			{"a string", `"delivered"`, http.StatusBadRequest, ""},
			{"empty", ``, http.StatusBadRequest, ""},
			{"empty array", `[]`, http.StatusUnprocessableEntity, "reports"},
			{"no id", `{"status": "delivered"}`, http.StatusUnprocessableEntity, "messageId"},
			{"unknown status", `{"messageId": "p", "status": "read"}`, http.StatusUnprocessableEntity, "status"},
			{"bad timestamp", `{"messageId": "p", "status": "delivered", "timestamp": "yesterday"}`, http.StatusUnprocessableEntity, "timestamp"},
			{"wrong type", `{"messageId": 7, "status": "delivered"}`, http.StatusBadRequest, ""},
			{"one bad in a batch", `[{"messageId": "ok", "status": "delivered"}, {"messageId": "p", "status": "nope"}]`,
				http.StatusUnprocessableEntity, "reports[1].status"},
			{"trailing garbage", `{"messageId": "p", "status": "delivered"} x`, http.StatusBadRequest, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, withDLR)
				b.srv.deps.Reports = b.store
				e := decode[apiError](t, b.do(t, dlrRequest(tt.body)), tt.status)
				if tt.detail != "" {
					require.Contains(t, e.Details, tt.detail)
				}
				// Nothing stored: the same good report now is parked, not a duplicate.
				got := decode[deliveryReportsResponse](t, b.do(t, dlrRequest(`{"messageId": "ok", "status": "delivered"}`)), http.StatusAccepted)
				require.Equal(t, ims.ReportParked, got.Reports[0].Outcome)
			})
		}
	})
	t.Run("an unknown delivery_status filter is a 400", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		e := decode[apiError](t, b.do(t, request{method: "GET", path: "/api/messages?delivery_status=read"}), http.StatusBadRequest)
		require.True(t, strings.Contains(e.Error, "delivery_status"), e.Error)
	})
}
