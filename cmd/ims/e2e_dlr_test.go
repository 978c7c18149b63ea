package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
)

const (
	testDLRKey = "e2e-dlr-key"
	// phoneDead is answered 400 by the webhook: dead at once.
	phoneDead = "+447700900123"
	// phoneEarly gets its delivery report posted before the webhook answers.
	phoneEarly = "+33612345678"
)

var callbackKey = []byte("0123456789abcdef0123456789abcdef")

// callbackReceiver fails its first failFirst calls with a 500 and keeps
// every call whose signature verifies; a bad signature fails the test.
type callbackReceiver struct {
	t         *testing.T
	failFirst int
	mu        sync.Mutex
	calls     int
	got       []receivedCallback
}

type receivedCallback struct {
	WebhookID string
	Payload   ims.CallbackPayload
}

func (rc *callbackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, callbackKey)
	mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "." + string(body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.Header.Get("webhook-signature") != want {
		rc.t.Errorf("callback %s: bad signature %q", r.Header.Get("webhook-id"), r.Header.Get("webhook-signature"))
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if rc.calls <= rc.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var p ims.CallbackPayload
	if err := json.Unmarshal(body, &p); err != nil {
		rc.t.Errorf("callback body %q: %v", body, err)
	}
	rc.got = append(rc.got, receivedCallback{WebhookID: r.Header.Get("webhook-id"), Payload: p})
	w.WriteHeader(http.StatusNoContent)
}

// has reports whether a callback for message id with status and delivery
// status arrived.
func (rc *callbackReceiver) has(id string, status ims.Status, delivery ims.DeliveryStatus) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, c := range rc.got {
		if c.Payload.MessageID == id && c.Payload.Status == status && c.Payload.DeliveryStatus == string(delivery) {
			return true
		}
	}
	return false
}

// providerWebhook answers like the provider, with two twists: phoneDead is
// refused (400), and for phoneEarly the provider posts its delivery report
// (twice) to IMS before answering the send, as fast providers do.
func providerWebhook(t *testing.T, imsURL *atomic.Value) func(next http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				To string `json:"to"`
			}
			_ = json.Unmarshal(body, &req)
			if req.To == phoneDead {
				http.Error(w, `{"error":"unknown number"}`, http.StatusBadRequest)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			if req.To == phoneEarly {
				var ans struct {
					MessageID string `json:"messageId"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &ans)
				base, _ := imsURL.Load().(string)
				report := `{"messageId": "` + ans.MessageID + `", "status": "delivered", "timestamp": "` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
				// The first is parked (202); the repeat is a duplicate (200).
				for i, want := range []int{http.StatusAccepted, http.StatusOK} {
					resp, err := http.Post(base+"/api/delivery-reports?", "application/json", strings.NewReader(report))
					if err != nil {
						t.Errorf("post early report: %v", err)
						break
					}
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusUnauthorized {
						t.Errorf("early report without a key: want 401, got %d", resp.StatusCode)
					}
					req, _ := http.NewRequest(http.MethodPost, base+"/api/delivery-reports", strings.NewReader(report))
					req.Header.Set("x-ins-auth-key", testDLRKey)
					resp, err = http.DefaultClient.Do(req)
					if err != nil {
						t.Errorf("post early report: %v", err)
						break
					}
					_ = resp.Body.Close()
					if resp.StatusCode != want {
						t.Errorf("early report %d: want %d, got %d", i, want, resp.StatusCode)
					}
				}
			}
			for k, vs := range rec.Header() {
				w.Header()[k] = vs
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}
}

// TestE2EDeliveryReportsAndStatusCallbacks: reports posted before and after
// the send's answer, twice, out of order and for unknown ids all end right;
// a callback receiver that fails at first still gets every terminal change
// and every applied report, signed, at least once. On every backend: in
// RabbitMQ mode the outcomes take the same store path.
func TestE2EDeliveryReportsAndStatusCallbacks(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		cb := &callbackReceiver{t: t, failFirst: 3}
		cbSrv := httptest.NewServer(cb)
		t.Cleanup(cbSrv.Close)
		var imsURL atomic.Value
		h := newHarness(t, b, harnessOptions{
			Receiver: receiverOptions{Webhook: providerWebhook(t, &imsURL)},
			Configure: func(cfg *config.Config) {
				cfg.DLRAuthKey, cfg.DLRParkTTL = testDLRKey, time.Hour
				cfg.StatusCallbackURL = cbSrv.URL + "/ims-status?token=t0k3n"
				cfg.StatusCallbackSecret = "whsec_" + base64.StdEncoding.EncodeToString(callbackKey)
				cfg.StatusCallbackMaxRetries = 10
			},
		})
		imsURL.Store(h.BaseURL)
		ctx := t.Context()

		early := h.createMessage(t, phoneEarly, "report before the answer")
		late := h.createMessage(t, phoneA, "report after the answer")
		dead := h.createMessage(t, phoneDead, "refused")
		future := time.Now().Add(time.Hour)
		created, err := h.API.CreateMessage(ctx, client.NewMessage{PhoneNumber: phoneB, Content: "canceled", SendAt: &future}, "")
		require.NoError(t, err)
		_, err = h.API.CancelMessage(ctx, created.Message.ID)
		require.NoError(t, err)
		canceled := created.Message

		h.waitStatus(t, early.ID, ims.StatusSent)
		sentLate := h.waitStatus(t, late.ID, ims.StatusSent)
		h.waitStatus(t, dead.ID, ims.StatusDead)

		// The early report was parked and applied when the send was recorded.
		eventually(t, "the parked report applies", func() bool {
			return h.message(t, early.ID).Message.DeliveryStatus == ims.DeliveryDelivered
		})

		// After the answer: a failure, then an older delivered (out of
		// order), each twice, and one for an id nobody has.
		t0 := time.Now().UTC()
		reports := []client.DeliveryReport{
			{MessageID: sentLate.ProviderMessageID, Status: "failed", ErrorCode: "EC42", Timestamp: ptrTime(t0)},
			{MessageID: sentLate.ProviderMessageID, Status: "failed", ErrorCode: "EC42", Timestamp: ptrTime(t0)},
		}
		res, err := h.API.DeliveryReports(ctx, testDLRKey, reports)
		require.NoError(t, err)
		require.Equal(t, 1, res.Applied)
		require.Equal(t, 1, res.Ignored, "the repeat is a duplicate")
		m := h.message(t, late.ID).Message
		require.Equal(t, ims.StatusSent, m.Status, "status stays sent")
		require.Equal(t, ims.DeliveryUndelivered, m.DeliveryStatus)
		require.Equal(t, "EC42", m.ErrorCode)

		older := []client.DeliveryReport{{MessageID: sentLate.ProviderMessageID, Status: "delivered", Timestamp: ptrTime(t0.Add(-time.Second))}}
		res, err = h.API.DeliveryReports(ctx, testDLRKey, older)
		require.NoError(t, err)
		require.Equal(t, 1, res.Applied, "delivered wins over undelivered, whatever the order")
		res, err = h.API.DeliveryReports(ctx, testDLRKey, older)
		require.NoError(t, err)
		require.Equal(t, 1, res.Ignored)

		res, err = h.API.DeliveryReports(ctx, testDLRKey, []client.DeliveryReport{{MessageID: "no-such-id", Status: "delivered"}})
		require.NoError(t, err)
		require.Equal(t, 1, res.Parked, "an unknown id is kept, never a 500")

		listed, err := h.API.ListMessages(ctx, client.MessageFilter{DeliveryStatus: "delivered"})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{early.ID, late.ID}, messageIDs(listed.Messages))
		bad := h.raw(t, http.MethodGet, "/api/messages?delivery_status=read", "", nil)
		require.Equal(t, http.StatusBadRequest, bad.Status)

		events := h.audit(t, client.AuditFilter{MessageID: late.ID, Type: ims.EventMessageDeliveryReport})
		require.Len(t, events, 2, "one event per applied report")

		for _, want := range []struct {
			id       string
			status   ims.Status
			delivery ims.DeliveryStatus
		}{
			{early.ID, ims.StatusSent, ims.DeliveryNone},
			{early.ID, ims.StatusSent, ims.DeliveryDelivered},
			{late.ID, ims.StatusSent, ims.DeliveryNone},
			{late.ID, ims.StatusSent, ims.DeliveryUndelivered},
			{late.ID, ims.StatusSent, ims.DeliveryDelivered},
			{dead.ID, ims.StatusDead, ims.DeliveryNone},
			{canceled.ID, ims.StatusCanceled, ims.DeliveryNone},
		} {
			eventually(t, "callback "+want.id+" "+string(want.status)+"/"+string(want.delivery), func() bool {
				return cb.has(want.id, want.status, want.delivery)
			})
		}
		eventually(t, "the metrics count the parked reports", func() bool {
			body := string(h.raw(t, http.MethodGet, "/metrics", "", nil).Body)
			return strings.Contains(body, `ims_delivery_reports_total{outcome="parked"} 2`) &&
				strings.Contains(body, `ims_status_callbacks_total{result="retry"} 3`)
		})
		health := h.health(t)
		require.Contains(t, health.Components, "callbacks")
	})
}

func ptrTime(t time.Time) *time.Time { return &t }

func messageIDs(msgs []ims.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}
