package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
)

// TestE2EHighPriorityOvertakesALowBacklog: 500 low messages wait while the
// scheduler is stopped, then one high; once started, the high one is among
// the deliveries of the very first claim, ahead of every older low one.
func TestE2EHighPriorityOvertakesALowBacklog(t *testing.T) {
	t.Parallel()
	const batchSize, backlog = 10, 500
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{Configure: func(cfg *config.Config) {
			cfg.SchedulerInterval, cfg.SchedulerBatchSize, cfg.SchedulerAutoStart = time.Second, batchSize, false
		}})
		lows := make([]client.NewMessage, backlog)
		for i := range lows {
			lows[i] = client.NewMessage{PhoneNumber: phoneA, Content: "promo", Priority: ims.PriorityLow}
		}
		res, err := h.API.CreateBatch(t.Context(), lows, "")
		require.NoError(t, err)
		require.Equal(t, backlog, res.Created)
		require.Equal(t, ims.PriorityLow, res.Messages[0].Priority)
		created, err := h.API.CreateMessage(t.Context(),
			client.NewMessage{PhoneNumber: phoneB, Content: "your code is 1234", Priority: ims.PriorityHigh}, "")
		require.NoError(t, err)
		high := created.Message
		require.Equal(t, ims.PriorityHigh, high.Priority)

		listed, err := h.API.ListMessages(t.Context(), client.MessageFilter{Priority: ims.PriorityHigh})
		require.NoError(t, err)
		require.Len(t, listed.Messages, 1, "?priority=high lists the one high message")
		require.Equal(t, high.ID, listed.Messages[0].ID)

		h.startScheduler(t)
		h.waitStatus(t, high.ID, ims.StatusSent)
		h.stopScheduler(t)

		reqs := h.requestsFor(high.ID)
		require.Len(t, reqs, 1)
		require.LessOrEqual(t, reqs[0].Seq, batchSize, "the high message is among the first claim's deliveries")
		// The first claim is the earliest message.claimed instant: the high
		// message was claimed in it.
		claims := h.audit(t, client.AuditFilter{Type: ims.EventMessageClaimed})
		require.NotEmpty(t, claims)
		first := claims[0].CreatedAt
		var inFirst []string
		for _, e := range claims {
			if e.CreatedAt.Equal(first) {
				inFirst = append(inFirst, e.MessageID)
			}
		}
		require.Contains(t, inFirst, high.ID, "first claim: %v", inFirst)
		require.LessOrEqual(t, len(inFirst), batchSize)
	})
}

// TestE2EShortTTLExpiresAndIsNeverSent: a message with ttl_seconds=1 made
// while the scheduler is stopped becomes expired within a few seconds (the
// sweeper, not a later claim), never reaches the webhook, is listed under
// ?status=expired with its message.expired event, is counted, and can be
// sent only after a replay with a new expiry.
func TestE2EShortTTLExpiresAndIsNeverSent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		h := newHarness(t, b, harnessOptions{Configure: func(cfg *config.Config) { cfg.SchedulerAutoStart = false }})
		created, err := h.API.CreateMessage(t.Context(),
			client.NewMessage{PhoneNumber: phoneA, Content: "code 1234, valid 1s", TTLSeconds: 1}, "")
		require.NoError(t, err)
		m := created.Message
		require.NotNil(t, m.ExpiresAt)
		keep := h.createMessage(t, phoneB, "no expiry")

		start := time.Now()
		h.waitStatus(t, m.ID, ims.StatusExpired)
		require.Less(t, time.Since(start), 10*time.Second, "expired within a few seconds")

		expired := h.messageList(t, ims.StatusExpired)
		require.Len(t, expired, 1)
		require.Equal(t, m.ID, expired[0].ID)
		events := h.audit(t, client.AuditFilter{MessageID: m.ID, Type: ims.EventMessageExpired})
		require.Len(t, events, 1)
		require.Equal(t, "expired: "+string(ims.ExpiryStopped), events[0].Details, "why: it waited while stopped")
		eventually(t, "the stats count the expired message", func() bool {
			return h.stats(t).Counts[ims.StatusExpired] == 1
		})
		metrics := h.raw(t, http.MethodGet, "/metrics", "", nil)
		require.Equal(t, http.StatusOK, metrics.Status)
		require.True(t, strings.Contains(string(metrics.Body), `ims_messages_expired_total{reason="stopped"} 1`), "metrics count it")

		h.startScheduler(t)
		h.waitStatus(t, keep.ID, ims.StatusSent)
		require.Empty(t, h.requestsFor(m.ID), "an expired message never reaches the webhook")

		_, err = h.API.ReplayMessage(t.Context(), m.ID)
		require.Equal(t, ims.ECONFLICT, ims.ErrorCode(err), "an expired message needs a new expiry: %v", err)
		replayed, err := h.API.ReplayMessageWithExpiry(t.Context(), m.ID, client.NewExpiry{TTLSeconds: 600})
		require.NoError(t, err)
		require.Equal(t, ims.StatusPending, replayed.Status)
		h.waitStatus(t, m.ID, ims.StatusSent)
		require.Equal(t, 1, h.acceptedCount(m.ID))
	})
}
