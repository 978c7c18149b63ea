package main

// The end-to-end behaviour suite: IMS as a user (or a judge) tries it,
// through the real HTTP API, against a real webhook receiver, on every
// backend. Each behaviour is written once and run as a subtest per backend
// (see forEachBackend). The helpers, by subject:
//
//   - e2e_config_test.go: the keys, the backends, the base configuration and
//     its environment for `ims serve`.
//   - e2e_sink_test.go: the webhook receiver, recording every request, and
//     the fault handler in front of it.
//   - e2e_api_test.go: the API as a client sees it, and the waits.
//   - e2e_server_test.go: IMS in-process (NewMain on port 0), the harness.
//   - e2e_binary_test.go: the real binary, run once or as `ims serve`.

import (
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/sink"
)

const (
	phoneA = "+905551234567"
	phoneB = "+14155550100"
)

func TestE2EAuth(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{})
		tests := []struct {
			name          string
			authorization string
			want          int
		}{
			{name: "no key", authorization: "", want: http.StatusUnauthorized},
			{name: "wrong key", authorization: "not-the-key", want: http.StatusUnauthorized},
			{name: "wrong bearer key", authorization: "Bearer not-the-key", want: http.StatusUnauthorized},
			{name: "webhook key is not the API key", authorization: testWebhookKey, want: http.StatusUnauthorized},
			{name: "raw key", authorization: testAPIKey, want: http.StatusOK},
			{name: "bearer key", authorization: "Bearer " + testAPIKey, want: http.StatusOK},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, path := range []string{"/api/messages", "/api/control", "/api/audit", "/api/messages/dead-letter"} {
					resp := h.raw(t, http.MethodGet, path, "", headers{"Authorization": tt.authorization})
					require.Equal(t, tt.want, resp.Status, "GET %s: %s", path, resp.Body)
				}
				resp := h.raw(t, http.MethodPost, "/api/messages", `{"phone_number":"+905551234567","content":"hi"}`,
					headers{"Authorization": tt.authorization})
				if tt.want == http.StatusUnauthorized {
					require.Equal(t, http.StatusUnauthorized, resp.Status, "%s", resp.Body)
					var body struct{ Error string }
					resp.decode(t, &body)
					require.NotEmpty(t, body.Error, "an error answer says what is wrong")
				} else {
					require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
				}
			})
		}
		// Only the two authorised creates stored anything.
		require.Len(t, h.messageList(t, ""), 2)
	})
}

func TestE2ERejectsBadInput(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{Configure: func(cfg *config.Config) { cfg.SchedulerAutoStart = false }})
		tests := []struct {
			name string
			body string
			want int
		}{
			{name: "bad phone", body: `{"phone_number":"05551234567","content":"hi"}`, want: http.StatusUnprocessableEntity},
			{name: "missing phone", body: `{"content":"hi"}`, want: http.StatusUnprocessableEntity},
			{name: "empty content", body: `{"phone_number":"+905551234567","content":""}`, want: http.StatusUnprocessableEntity},
			{name: "blank content", body: `{"phone_number":"+905551234567","content":"   "}`, want: http.StatusUnprocessableEntity},
			{name: "161 runes", body: `{"phone_number":"+905551234567","content":"` + strings.Repeat("ü", 161) + `"}`,
				want: http.StatusUnprocessableEntity},
			{name: "bad send_at", body: `{"phone_number":"+905551234567","content":"hi","send_at":"tomorrow"}`,
				want: http.StatusUnprocessableEntity},
			{name: "malformed JSON", body: `{"phone_number":"+905551234567","content":`, want: http.StatusBadRequest},
			{name: "not an object", body: `["+905551234567","hi"]`, want: http.StatusBadRequest},
			{name: "unknown field", body: `{"phone_number":"+905551234567","content":"hi","priority":1}`,
				want: http.StatusBadRequest},
			{name: "wrong type", body: `{"phone_number":905551234567,"content":"hi"}`, want: http.StatusBadRequest},
			{name: "trailing data", body: `{"phone_number":"+905551234567","content":"hi"} {}`, want: http.StatusBadRequest},
			{name: "empty body", body: ``, want: http.StatusBadRequest},
			// Hostile input of issue 7: each once made PostgreSQL answer 500,
			// reached the provider from SQLite, or broke every later answer.
			{name: "send_at in year 10000 UTC", body: `{"phone_number":"+905551234567","content":"hi","send_at":"9999-12-31T23:59:59-23:59"}`,
				want: http.StatusUnprocessableEntity},
			{name: "NUL in content", body: `{"phone_number":"+905551234567","content":"a\u0000b"}`, want: http.StatusUnprocessableEntity},
			{name: "zero-width content", body: `{"phone_number":"+905551234567","content":"\u200b"}`, want: http.StatusUnprocessableEntity},
			{name: "lone surrogate", body: `{"phone_number":"+905551234567","content":"\ud800"}`, want: http.StatusBadRequest},
			{name: "oversize body", body: `{"phone_number":"+905551234567","content":"` + strings.Repeat("a", 2<<20) + `"}`,
				want: http.StatusRequestEntityTooLarge},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp := h.raw(t, http.MethodPost, "/api/messages", tt.body, nil)
				require.Equal(t, tt.want, resp.Status, "%s", resp.Body)
				var body struct{ Error string }
				resp.decode(t, &body)
				require.NotEmpty(t, body.Error, "the answer says what is wrong")
			})
		}
		t.Run("non-UTF-8 Idempotency-Key", func(t *testing.T) {
			resp := h.raw(t, http.MethodPost, "/api/messages", `{"phone_number":"+905551234567","content":"hi"}`, headers{"Idempotency-Key": "k\xff"})
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, "%s", resp.Body)
		})
		for _, q := range []string{"type=%00", "type=%ff", "type=nope", "actor=me"} {
			t.Run("audit "+q, func(t *testing.T) {
				resp := h.raw(t, http.MethodGet, "/api/audit?"+q, "", nil)
				require.Equal(t, http.StatusBadRequest, resp.Status, "%s", resp.Body)
			})
		}
		require.Empty(t, h.messageList(t, ""), "a rejected request stores nothing")

		// The limit is in runes: 160 two-byte characters are fine.
		m := h.createMessage(t, phoneA, strings.Repeat("ü", 160))
		require.Equal(t, strings.Repeat("ü", 160), m.Content)
		require.Len(t, h.messageList(t, ""), 1)
	})
}

func TestE2ENothingSentWhileStopped(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{Configure: func(cfg *config.Config) { cfg.SchedulerAutoStart = false }})
		require.False(t, h.controlState(t).Running, "SCHEDULER_AUTO_START=false: a new database starts stopped")
		msgs := h.createMessages(t, 3, phoneA)

		h.idle(t, 20*h.Config.PollInterval)
		require.Zero(t, h.received(), "nothing reaches the webhook while the scheduler is stopped")
		require.Len(t, h.messageList(t, ims.StatusPending), 3)

		require.True(t, h.startScheduler(t).Running)
		h.waitAllStatus(t, msgs, ims.StatusSent)
		for _, m := range msgs {
			require.Equal(t, 1, h.acceptedCount(m.ID), "message %s delivered once", m.ID)
		}
	})
}

func TestE2EPacing(t *testing.T) {
	t.Parallel()
	const batchSize, messages = 2, 6
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{Configure: func(cfg *config.Config) {
			cfg.SchedulerInterval, cfg.SchedulerBatchSize, cfg.SchedulerAutoStart = 400*time.Millisecond, batchSize, false
		}})
		msgs := h.createMessages(t, messages, phoneA)
		h.startScheduler(t)
		h.waitAllStatus(t, msgs, ims.StatusSent)

		// A batch is one claim: the messages claimed together share the
		// claim's timestamp in the audit trail.
		order := map[string]int{} // message ID → creation order
		for i, m := range msgs {
			order[m.ID] = i
		}
		var batches [][]string
		var last time.Time
		for _, e := range h.audit(t, client.AuditFilter{Type: ims.EventMessageClaimed}) {
			if len(batches) == 0 || !e.CreatedAt.Equal(last) {
				batches = append(batches, nil)
				last = e.CreatedAt
			}
			batches[len(batches)-1] = append(batches[len(batches)-1], e.MessageID)
		}
		require.GreaterOrEqual(t, len(batches), messages/batchSize, "batches: %v", batches)
		claimed := 0
		for _, batch := range batches {
			require.LessOrEqual(t, len(batch), batchSize, "batches: %v", batches)
			claimed += len(batch)
		}
		require.Equal(t, messages, claimed, "each message claimed once: %v", batches)

		// Oldest first between batches, and the webhook received batch k
		// before batch k+1.
		firstSeq := func(id string) int {
			rs := h.requestsFor(id)
			require.Len(t, rs, 1, "message %s", id)
			return rs[0].Seq
		}
		for k := 1; k < len(batches); k++ {
			for _, prev := range batches[k-1] {
				for _, cur := range batches[k] {
					require.Less(t, order[prev], order[cur], "batch %d holds an older message than batch %d", k, k-1)
					require.Less(t, firstSeq(prev), firstSeq(cur), "batch %d reached the webhook before batch %d", k, k-1)
				}
			}
		}
	})
}

func TestE2EWebhookContract(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{})
		content := `Hello "world" — ünïcode ✓ & <tags>`
		m := h.createMessage(t, phoneA, content)
		sent := h.waitStatus(t, m.ID, ims.StatusSent)

		reqs := h.requestsFor(m.ID)
		require.Len(t, reqs, 1)
		req := reqs[0]
		require.Equal(t, http.MethodPost, req.Method)
		require.Equal(t, "/webhook", req.Path)
		mediaType, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, "application/json", mediaType)
		require.Equal(t, testWebhookKey, req.Header.Get("x-ins-auth-key"))
		require.Equal(t, m.ID, req.Header.Get("Idempotency-Key"))

		var body map[string]any
		require.NoError(t, json.Unmarshal(req.Body, &body), "%s", req.Body)
		require.Equal(t, map[string]any{"to": phoneA, "content": content}, body, "body is exactly {to, content}")

		// The provider's messageId is the message's provider id, everywhere.
		ds := h.deliveries(m.ID)
		require.Len(t, ds, 1)
		require.Equal(t, http.StatusAccepted, ds[0].Status)
		providerID := ds[0].MessageID
		require.NotEmpty(t, providerID)
		require.Equal(t, providerID, sent.ProviderMessageID)
		list := h.sentList(t)
		i := slices.IndexFunc(list, func(x ims.Message) bool { return x.ID == m.ID })
		require.GreaterOrEqual(t, i, 0, "GET /api/messages/sent lists the message")
		require.Equal(t, providerID, list[i].ProviderMessageID)
		require.NotNil(t, list[i].SentAt)

		detail := h.message(t, m.ID)
		require.Len(t, detail.Attempts, 1)
		require.Equal(t, http.StatusAccepted, detail.Attempts[0].StatusCode)
		require.Equal(t, ims.StatusSent, detail.Attempts[0].Outcome)
	})
}

func TestE2EStopCancelStart(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{})
		require.True(t, h.controlState(t).Running, "SCHEDULER_AUTO_START defaults to running")

		st := h.stopScheduler(t)
		require.False(t, st.Running)
		require.False(t, h.controlState(t).Running)

		canceled := h.createMessage(t, phoneA, "never to be sent")
		kept := h.createMessage(t, phoneB, "sent after the start")
		m, err := h.API.CancelMessage(t.Context(), canceled.ID)
		require.NoError(t, err)
		require.Equal(t, ims.StatusCanceled, m.Status)
		_, err = h.API.CancelMessage(t.Context(), canceled.ID)
		require.Equal(t, ims.ECONFLICT, ims.ErrorCode(err), "only a pending message can be canceled: %v", err)

		require.True(t, h.startScheduler(t).Running)
		h.waitStatus(t, kept.ID, ims.StatusSent)
		require.Equal(t, ims.StatusCanceled, h.message(t, canceled.ID).Message.Status)
		require.Empty(t, h.requestsFor(canceled.ID), "a canceled message never reaches the webhook")
		_, err = h.API.CancelMessage(t.Context(), kept.ID)
		require.Equal(t, ims.ECONFLICT, ims.ErrorCode(err), "a sent message cannot be canceled: %v", err)

		t.Run("quick stop/start cycles", func(t *testing.T) {
			msgs := h.createMessages(t, 10, phoneA)
			for i := range 20 {
				if i%2 == 0 {
					require.False(t, h.stopScheduler(t).Running, "cycle %d: stop", i)
				} else {
					require.True(t, h.startScheduler(t).Running, "cycle %d: start", i)
				}
			}
			require.True(t, h.controlState(t).Running, "GET /api/control reflects the last action")
			h.waitAllStatus(t, msgs, ims.StatusSent)
			for _, m := range msgs {
				require.Equal(t, 1, h.acceptedCount(m.ID), "message %s delivered once", m.ID)
			}
			require.Zero(t, h.Sink.Stats().Duplicates)

			require.False(t, h.stopScheduler(t).Running)
			require.False(t, h.controlState(t).Running, "GET /api/control reflects the last action")
			require.NoError(t, h.health(t).Err, "a 200")
		})
	})
}

func TestE2EIdempotentCreate(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{})
		// Raw: the statuses and Idempotent-Replayed are the contract here.
		body := `{"phone_number":"+905551234567","content":"once only"}`
		key := headers{"Idempotency-Key": "order-42"}

		first := h.raw(t, http.MethodPost, "/api/messages", body, key)
		require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
		second := h.raw(t, http.MethodPost, "/api/messages", body, key)
		require.Equal(t, http.StatusOK, second.Status, "a repeated key returns the first message: %s", second.Body)
		require.Equal(t, "true", second.Header.Get("Idempotent-Replayed"))
		var m1, m2 ims.Message
		first.decode(t, &m1)
		second.decode(t, &m2)
		require.Equal(t, m1.ID, m2.ID)

		other := h.raw(t, http.MethodPost, "/api/messages", `{"phone_number":"+905551234567","content":"something else"}`, key)
		require.Equal(t, http.StatusConflict, other.Status, "the key of another message: %s", other.Body)

		h.waitStatus(t, m1.ID, ims.StatusSent)
		require.Len(t, h.messageList(t, ""), 1)
		require.Equal(t, 1, h.received(), "one message, one delivery")
		require.Equal(t, 1, h.acceptedCount(m1.ID))
	})
}

// Phone numbers the fault handler fails in chosen ways.
const (
	phoneFail500  = "+15550000500"
	phoneFail400  = "+15550000400"
	phoneFail503  = "+15550000503"
	phoneFail429  = "+15550000429"
	phoneHangs    = "+15550000408"
	phoneHealthy  = "+15550000200"
	phoneFlakyOne = "+15550000001"
	phoneFlakyAll = "+15550000002"
)

func TestE2ERetries(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		f := newFaults()
		// A 408 is about the message and spends its budget; a 5xx is the
		// provider's and does not (TestE2EProviderOutage).
		f.set(phoneFail500, always(http.StatusRequestTimeout))
		f.set(phoneFail400, always(http.StatusBadRequest))
		f.set(phoneFail503, firstThen(http.StatusServiceUnavailable, "1"))
		f.set(phoneFail429, firstThen(http.StatusTooManyRequests, "1"))
		f.set(phoneHangs, firstThen(statusHang, ""))
		h := newHarness(t, b, harnessOptions{Receiver: receiverOptions{Webhook: f.handler}})
		// The failing messages are the oldest, so they are due first.
		m500 := h.createMessage(t, phoneFail500, "fails with 408")
		m400 := h.createMessage(t, phoneFail400, "fails with 400")
		m503 := h.createMessage(t, phoneFail503, "503 then ok")
		m429 := h.createMessage(t, phoneFail429, "429 then ok")
		mHang := h.createMessage(t, phoneHangs, "no answer, then ok")
		healthy := h.createMessage(t, phoneHealthy, "fine")

		t.Run("408 retried with the same key, then dead-lettered", func(t *testing.T) {
			dead := h.waitStatus(t, m500.ID, ims.StatusDead)
			attempts := h.Config.MaxRetries + 1
			reqs := h.requestsFor(m500.ID)
			require.Len(t, reqs, attempts, "the first attempt and WEBHOOK_MAX_RETRIES retries")
			require.Equal(t, attempts, countTo(h.all(), phoneFail500), "every attempt carried the same Idempotency-Key")
			require.Contains(t, dead.LastError, "408")

			detail := h.message(t, m500.ID)
			require.Len(t, detail.Attempts, attempts)
			for i, a := range detail.Attempts {
				require.Equal(t, http.StatusRequestTimeout, a.StatusCode, "attempt %d", i+1)
				want := ims.StatusPending
				if i == attempts-1 {
					want = ims.StatusDead
				}
				require.Equal(t, want, a.Outcome, "attempt %d", i+1)
			}

			i := slices.IndexFunc(h.deadLetterList(t), func(m ims.Message) bool { return m.ID == m500.ID })
			require.GreaterOrEqual(t, i, 0, "the message is in the dead-letter list")
			require.NotEmpty(t, h.deadLetterList(t)[i].LastError)
		})

		t.Run("400 is dead after one attempt", func(t *testing.T) {
			dead := h.waitStatus(t, m400.ID, ims.StatusDead)
			require.Contains(t, dead.LastError, "400")
			require.Len(t, h.requestsFor(m400.ID), 1)
			require.Len(t, h.message(t, m400.ID).Attempts, 1)
		})

		for _, tt := range []struct {
			name   string
			msg    ims.Message
			status int
		}{
			{name: "503 with Retry-After is retried after it", msg: m503, status: http.StatusServiceUnavailable},
			{name: "429 with Retry-After is retried after it", msg: m429, status: http.StatusTooManyRequests},
		} {
			t.Run(tt.name, func(t *testing.T) {
				h.waitStatus(t, tt.msg.ID, ims.StatusSent)
				reqs := h.requestsFor(tt.msg.ID)
				require.Len(t, reqs, 2)
				require.Equal(t, tt.status, reqs[0].Status)
				require.Equal(t, http.StatusAccepted, reqs[1].Status)
				require.GreaterOrEqual(t, reqs[1].ReceivedAt.Sub(reqs[0].ReceivedAt), time.Second,
					"the retry waited for Retry-After: 1")

				attempts := h.message(t, tt.msg.ID).Attempts
				require.Len(t, attempts, 2)
				require.Equal(t, tt.status, attempts[0].StatusCode)
				require.GreaterOrEqual(t, attempts[1].CreatedAt.Sub(attempts[0].CreatedAt), time.Second)
			})
		}

		t.Run("no answer within WEBHOOK_TIMEOUT is retried", func(t *testing.T) {
			h.waitStatus(t, mHang.ID, ims.StatusSent)
			require.Len(t, h.requestsFor(mHang.ID), 2)
			attempts := h.message(t, mHang.ID).Attempts
			require.Len(t, attempts, 2)
			require.Zero(t, attempts[0].StatusCode, "no answer arrived")
			require.NotEmpty(t, attempts[0].Error)
			require.Equal(t, ims.StatusPending, attempts[0].Outcome)
			require.Equal(t, http.StatusAccepted, attempts[1].StatusCode)
		})

		t.Run("a failing message does not block others", func(t *testing.T) {
			h.waitStatus(t, healthy.ID, ims.StatusSent)
			require.Len(t, h.message(t, healthy.ID).Attempts, 1)
			require.Equal(t, 1, h.acceptedCount(healthy.ID))
			// The healthy message is the newest, yet it went out while an
			// older one waited for its retry: the one that got no answer
			// is retried only after WEBHOOK_TIMEOUT (2 s). Not the 503's
			// retry: the 503 and the 429 pause the whole fleet for their
			// Retry-After (1 s), which holds the healthy message too when
			// its claim comes after the pause began, and then it and the
			// 503's retry are due together.
			h.waitStatus(t, mHang.ID, ims.StatusSent)
			retry := h.requestsFor(mHang.ID)[1]
			require.Less(t, h.requestsFor(healthy.ID)[0].Seq, retry.Seq,
				"delivered before the unanswered message's retry")
		})
	})
}

// countTo counts the requests whose body was addressed to phone.
func countTo(reqs []webhookRequest, phone string) int {
	n := 0
	for _, r := range reqs {
		var body struct{ To string }
		if json.Unmarshal(r.Body, &body) == nil && body.To == phone {
			n++
		}
	}
	return n
}

func TestE2EReplay(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		f := newFaults()
		h := newHarness(t, b, harnessOptions{
			Configure: func(cfg *config.Config) { cfg.MaxRetries = 1 },
			Receiver:  receiverOptions{Webhook: f.handler},
		})

		t.Run("one dead message", func(t *testing.T) {
			// A 408 is the message's failure: a 5xx would be the
			// provider's, held and never dead-lettered.
			f.set(phoneFlakyOne, always(http.StatusRequestTimeout))
			m := h.createMessage(t, phoneFlakyOne, "dead, then replayed")
			h.waitStatus(t, m.ID, ims.StatusDead)
			f.set(phoneFlakyOne, nil) // the provider is back

			replayed, err := h.API.ReplayMessage(t.Context(), m.ID)
			require.NoError(t, err)
			require.Equal(t, m.ID, replayed.ID)
			h.waitStatus(t, m.ID, ims.StatusSent)
			require.Equal(t, 1, h.acceptedCount(m.ID))
			require.Len(t, h.requestsFor(m.ID), 3, "two failed attempts, then the replay")

			_, err = h.API.ReplayMessage(t.Context(), m.ID)
			require.Equal(t, ims.ECONFLICT, ims.ErrorCode(err), "only a dead message can be replayed: %v", err)
		})

		t.Run("bulk replay of the dead letters", func(t *testing.T) {
			f.set(phoneFlakyAll, always(http.StatusRequestTimeout))
			msgs := h.createMessages(t, 3, phoneFlakyAll)
			h.waitAllStatus(t, msgs, ims.StatusDead)
			require.Len(t, h.deadLetterList(t), 3)
			f.set(phoneFlakyAll, nil)

			replayed, err := h.API.ReplayDeadLetters(t.Context(), 0)
			require.NoError(t, err)
			require.Equal(t, 3, replayed)
			h.waitAllStatus(t, msgs, ims.StatusSent)
			for _, m := range msgs {
				require.Equal(t, 1, h.acceptedCount(m.ID))
			}
			require.Empty(t, h.deadLetterList(t))
		})
	})
}

func TestE2EAuditTrail(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		f := newFaults()
		f.set(phoneFlakyOne, always(http.StatusRequestTimeout))
		h := newHarness(t, b, harnessOptions{
			Configure: func(cfg *config.Config) { cfg.MaxRetries = 1 },
			Receiver:  receiverOptions{Webhook: f.handler},
		})

		t.Run("a message's life", func(t *testing.T) {
			m := h.createMessage(t, phoneFlakyOne, "audited")
			h.waitStatus(t, m.ID, ims.StatusDead)
			f.set(phoneFlakyOne, nil)
			_, err := h.API.ReplayMessage(t.Context(), m.ID)
			require.NoError(t, err)
			h.waitStatus(t, m.ID, ims.StatusSent)

			require.Equal(t, []string{
				ims.EventMessageCreated,
				ims.EventMessageClaimed, ims.EventMessageRetryScheduled,
				ims.EventMessageClaimed, ims.EventMessageDead,
				ims.EventMessageReplayed,
				ims.EventMessageClaimed, ims.EventMessageSent,
			}, h.auditTypes(t, client.AuditFilter{MessageID: m.ID}))
			for _, e := range h.audit(t, client.AuditFilter{MessageID: m.ID}) {
				require.Equal(t, m.ID, e.MessageID)
				switch e.Type {
				case ims.EventMessageCreated, ims.EventMessageReplayed:
					require.True(t, strings.HasPrefix(e.Actor, "api:"), "%s by %s", e.Type, e.Actor)
				case ims.EventMessageClaimed:
					require.True(t, strings.HasPrefix(e.Actor, "scheduler:"), "%s by %s", e.Type, e.Actor)
				}
			}
		})

		t.Run("cancel and control actions", func(t *testing.T) {
			h.stopScheduler(t)
			m := h.createMessage(t, phoneA, "canceled")
			_, err := h.API.CancelMessage(t.Context(), m.ID)
			require.NoError(t, err)
			h.startScheduler(t)
			require.Equal(t, []string{ims.EventMessageCreated, ims.EventMessageCanceled}, h.auditTypes(t, client.AuditFilter{MessageID: m.ID}))

			for _, typ := range []string{ims.EventSchedulerStopped, ims.EventSchedulerStarted} {
				events := h.audit(t, client.AuditFilter{Type: typ})
				require.NotEmpty(t, events, typ)
				require.True(t, strings.HasPrefix(events[len(events)-1].Actor, "api:"), "%s by %s", typ, events[len(events)-1].Actor)
			}
		})
	})
}

func TestE2EHealth(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{})
		// Main.Run loads the scheduler state before it serves, so the very
		// first answer is already right. No API key is needed.
		health := h.health(t)
		require.NoError(t, health.Err, "a 200")
		require.True(t, strings.HasPrefix(health.Components["scheduler"].Detail, "running"), health.Components["scheduler"].Detail)
		require.Contains(t, health.Components["scheduler"].Detail, "leader "+h.Config.InstanceID)
		require.Equal(t, "ok", health.Status)
		want := []string{"database", "scheduler"}
		if h.Config.RabbitMQEnabled {
			want = append(want, "queue")
		}
		for _, name := range want {
			c, ok := health.Components[name]
			require.True(t, ok, "component %s in %+v", name, health.Components)
			require.Equal(t, "up", c.Status, name)
		}
		require.True(t, health.Components["database"].Required)
	})
}

func TestE2EGracefulRestart(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{})
		sent := h.createMessage(t, phoneA, "sent before the restart")
		h.waitStatus(t, sent.ID, ims.StatusSent)
		h.stopScheduler(t)
		waiting := h.createMessage(t, phoneB, "pending across the restart")

		h.restart(t)
		require.False(t, h.controlState(t).Running, "the last stop holds across a restart")
		require.Equal(t, ims.StatusPending, h.message(t, waiting.ID).Message.Status)

		h.startScheduler(t)
		h.waitStatus(t, waiting.ID, ims.StatusSent)
		require.Equal(t, 1, h.acceptedCount(waiting.ID))
		require.Equal(t, 1, h.acceptedCount(sent.ID), "a sent message is not sent again after a restart")
		require.Equal(t, 2, h.received())
	})
}

// ---------------------------------------------------------------------------
// The real binary

// processConfig is the configuration of an `ims serve` process on backend b
// delivering to rcv.
func processConfig(t *testing.T, b backend, rcv *receiver) config.Config {
	t.Helper()
	cfg := baseConfig(t, rcv.URL)
	b.configure(t, &cfg)
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}

func TestE2EBinarySIGTERMFinishesInFlight(t *testing.T) {
	t.Parallel()
	forEachBackend(t, processBackends(), func(t *testing.T, b backend) {
		// A slow provider, so the message is in flight when SIGTERM arrives.
		rcv := newReceiver(t, receiverOptions{Sink: sink.Config{Latency: time.Second}})
		cfg := processConfig(t, b, rcv)
		p := startIMS(t, cfg)
		m := p.createMessage(t, phoneA, "in flight at SIGTERM")
		eventually(t, "the delivery to be in flight", func() bool { return rcv.pending() > 0 })

		p.signal(t, syscall.SIGTERM)
		require.Equal(t, 0, p.wait(t), "a graceful shutdown exits 0")

		got, err := openTestStore(t, cfg).GetMessage(t.Context(), m.ID)
		require.NoError(t, err)
		require.Equal(t, ims.StatusSent, got.Status, "the in-flight delivery finished and was recorded")
		require.Equal(t, 1, rcv.acceptedCount(m.ID))
	})
}

// TestE2EBinaryKill9LosesNothing runs on RabbitMQ mode too: there the
// crashed instance's consumer held entries the broker hands out again after
// the restart (redelivered, so the new consumer renews them before its call).
func TestE2EBinaryKill9LosesNothing(t *testing.T) {
	t.Parallel()
	const batchSize, messages = 4, 12
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		rcv := newReceiver(t, receiverOptions{Sink: sink.Config{Latency: 300 * time.Millisecond}})
		cfg := processConfig(t, b, rcv)
		// As many workers as a batch: what is in flight at a crash is at
		// most one batch.
		cfg.SchedulerInterval, cfg.SchedulerBatchSize, cfg.WorkerConcurrency = 200*time.Millisecond, batchSize, batchSize
		p := startIMS(t, cfg)
		msgs := p.createMessages(t, messages, phoneA)
		eventually(t, "deliveries under way", func() bool { return rcv.received() >= batchSize+1 && rcv.pending() > 0 })
		p.kill9(t)

		cfg.InstanceID += "-restarted"
		p = startIMS(t, cfg)
		p.waitAllStatus(t, msgs, ims.StatusSent)
		st := rcv.Sink.Stats()
		t.Logf("webhook after the crash and restart: received %d, accepted %d, duplicates %d",
			st.Received, st.Accepted, st.Duplicates)
		require.Equal(t, int64(messages), st.UniqueAccepted, "every message delivered")
		require.LessOrEqual(t, st.Duplicates, int64(batchSize), "at most the in-flight batch is delivered twice")
		for _, m := range msgs {
			require.GreaterOrEqual(t, rcv.acceptedCount(m.ID), 1, "message %s", m.ID)
		}

		t.Run("sent messages are never sent again after a restart", func(t *testing.T) {
			before := rcv.received()
			p.kill9(t)
			cfg.InstanceID += "-again"
			p = startIMS(t, cfg)
			p.waitLeader(t)
			p.idle(t, 5*cfg.SchedulerInterval)
			require.Equal(t, before, rcv.received())
			require.Len(t, p.sentList(t), messages)
		})
	})
}

func TestE2EBinarySchedulerStateSurvivesKill9(t *testing.T) {
	t.Parallel()
	forEachBackend(t, processBackends(), func(t *testing.T, b backend) {
		rcv := newReceiver(t, receiverOptions{})
		cfg := processConfig(t, b, rcv)
		p := startIMS(t, cfg)
		require.True(t, p.controlState(t).Running)
		require.False(t, p.stopScheduler(t).Running)
		p.kill9(t)

		cfg.InstanceID += "-restarted" // SCHEDULER_AUTO_START is still true: the stored state wins
		p = startIMS(t, cfg)
		require.False(t, p.controlState(t).Running, "the last stop holds across a restart")
		m := p.createMessage(t, phoneA, "waits for start")
		p.waitLeader(t)
		p.idle(t, 5*cfg.SchedulerInterval)
		require.Zero(t, rcv.received())

		require.True(t, p.startScheduler(t).Running)
		p.waitStatus(t, m.ID, ims.StatusSent)
	})
}

func TestE2EBinaryDemo(t *testing.T) {
	t.Parallel()
	res := runCLI(t, cleanEnv(t), 3*time.Minute, "demo", "-exit", "-port", "0")
	require.Equal(t, 0, res.ExitCode, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	require.Contains(t, res.Stdout, "Done:")
}

func TestE2EBinaryCommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantCode int
		// wantOut is in stdout, wantErr in stderr.
		wantOut, wantErr string
		oneLine          bool // stderr is exactly one line
	}{
		{name: "help", args: []string{"help"}, wantCode: 0, wantOut: "Usage:"},
		{name: "version", args: []string{"version"}, wantCode: 0, wantOut: "ims "},
		{name: "no command", args: nil, wantCode: 1, wantErr: "no command"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 1, wantErr: `unknown command "frobnicate"`},
		{name: "bad setting", args: []string{"serve"}, wantCode: 1, wantErr: "SERVER_PORT", oneLine: true,
			env: []string{"SERVER_PORT=abc", "WEBHOOK_URL=http://127.0.0.1:1/webhook", "WEBHOOK_AUTH_KEY=k"}},
		{name: "missing setting", args: []string{"serve"}, wantCode: 1, wantErr: "WEBHOOK_URL", oneLine: true},
		{name: "missing API key", args: []string{"serve"}, wantCode: 1, wantErr: "ims: API_KEY is required", oneLine: true,
			env: []string{"WEBHOOK_URL=http://127.0.0.1:1/webhook", "WEBHOOK_AUTH_KEY=k"}},
		{name: "API key is the webhook key", args: []string{"serve"}, wantCode: 1, wantErr: "ims: API_KEY must differ from WEBHOOK_AUTH_KEY", oneLine: true,
			env: []string{"WEBHOOK_URL=http://127.0.0.1:1/webhook", "WEBHOOK_AUTH_KEY=k", "API_KEY=k"}},
		{name: "bad -port", args: []string{"serve", "-port", "70000"}, wantCode: 1, wantErr: "-port must be an integer from 0 to 65535", oneLine: true,
			env: []string{"WEBHOOK_URL=http://127.0.0.1:1/webhook", "WEBHOOK_AUTH_KEY=k", "API_KEY=api"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, cleanEnv(t, tt.env...), time.Minute, tt.args...)
			require.Equal(t, tt.wantCode, res.ExitCode, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			require.Contains(t, res.Stdout, tt.wantOut)
			require.Contains(t, res.Stderr, tt.wantErr)
			if tt.oneLine {
				require.Equal(t, 1, strings.Count(strings.TrimSpace(res.Stderr), "\n")+1, "one line: %q", res.Stderr)
			}
		})
	}
}

func TestE2EHealthcheckCommand(t *testing.T) {
	t.Parallel()
	h := newHarness(t, backends()[0], harnessOptions{})

	up := runCLI(t, nil, 30*time.Second, "healthcheck", "-url", h.BaseURL+"/api/health")
	require.Equal(t, 0, up.ExitCode, up.Stderr)
	require.Contains(t, up.Stdout, `"status":"ok"`)

	// Another service's endpoint, as docker-compose.yml asks the sink's.
	sinkUp := runCLI(t, nil, 30*time.Second, "healthcheck", "-url", strings.TrimSuffix(h.URL, "/webhook")+"/healthz")
	require.Equal(t, 0, sinkUp.ExitCode, sinkUp.Stderr)
	require.Contains(t, sinkUp.Stdout, `"status":"ok"`)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/api/health"
	require.NoError(t, ln.Close())
	down := runCLI(t, nil, 30*time.Second, "healthcheck", "-url", closed, "-timeout", "2s")
	require.Equal(t, 1, down.ExitCode, "nothing listening: unhealthy")
	require.Contains(t, down.Stderr, "healthcheck")
}
