package sink_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/sink"
	"github.com/insiderone/ims/webhook"
)

// The sink and the webhook client are two halves of one contract: this
// holds them to each other.
func TestWebhookClientAgainstSink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cfg         sink.Config
		clientKey   string
		wantStatus  int
		wantRetry   time.Duration
		wantAccepts int
	}{
		{name: "accepted with provider id", cfg: sink.Config{AuthKey: "k"}, clientKey: "k", wantStatus: 202, wantAccepts: 1},
		{name: "wrong auth key is permanent", cfg: sink.Config{AuthKey: "k"}, clientKey: "nope", wantStatus: 401},
		{name: "rate limited with Retry-After", cfg: sink.Config{FailureRate: 1, FailStatus: 429, RetryAfter: 2 * time.Second}, wantStatus: 429, wantRetry: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.KeepDeliveries = true
			s := sink.New(tt.cfg)
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			c, err := webhook.New(webhook.Config{URL: srv.URL + "/sms", AuthKey: tt.clientKey})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			m := ims.Message{ID: "0190f5e2-7b1c-7000-8000-00000000000a", PhoneNumber: "+905551112233", Content: "héllo \"you\"\n"}

			res := c.Deliver(t.Context(), m)
			require.Equal(t, tt.wantStatus, res.StatusCode, "result: %+v", res)
			require.Equal(t, tt.wantRetry, res.RetryAfter)

			got := s.Received(m.ID)
			require.Len(t, got, 1)
			require.Equal(t, tt.wantStatus, got[0].Status)
			if tt.wantStatus == http.StatusAccepted {
				require.Equal(t, m.PhoneNumber, got[0].To)
				require.Equal(t, m.Content, got[0].Content)
				require.Equal(t, got[0].MessageID, res.ProviderMessageID)
			}

			// The same message again is a duplicate only if both were accepted.
			c.Deliver(t.Context(), m)
			st := s.Stats()
			require.Equal(t, int64(tt.wantAccepts), st.Duplicates)
			require.Equal(t, int64(1), st.UniqueKeys)
		})
	}
}
