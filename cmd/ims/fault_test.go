package main

// Outages of the services IMS depends on. RabbitMQ and Redis are cut through
// a TCP proxy in ordinary tests; the TestFault... tests stop and start the
// machine's real RabbitMQ and PostgreSQL, so they run only with
// IMS_FAULT_TESTS=1 (make test runs them after the main suite, one package at
// a time) and always start the service again when they end.

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/testenv"
	"github.com/insiderone/ims/rabbitmq"
)

// outageRun is the shape of every outage test: create messages, let
// deliveries start, break a dependency, check the service's view of it,
// mend it, and require that every message was delivered.
type outageRun struct {
	Messages int
	// Extra is how many more messages WhileBroken creates.
	Extra int
	Break func(t *testing.T)
	// WhileBroken checks the service while the dependency is down.
	WhileBroken func(t *testing.T)
	Mend        func(t *testing.T)
}

func (o outageRun) run(t *testing.T, h *harness) {
	t.Helper()
	h.createMessages(t, o.Messages, phoneA)
	eventually(t, "deliveries under way", func() bool { return h.Sink.Stats().UniqueAccepted >= int64(o.Messages/5) })
	o.Break(t)
	require.Less(t, h.Sink.Stats().UniqueAccepted, int64(o.Messages), "the outage fell mid-run")
	o.WhileBroken(t)
	o.Mend(t)
	total := o.Messages + o.Extra
	h.waitAllSent(t, total)
	st := h.Sink.Stats()
	t.Logf("webhook: received %d, accepted %d, unique %d, duplicates %d", st.Received, st.Accepted, st.UniqueAccepted, st.Duplicates)
	require.Equal(t, int64(total), st.UniqueAccepted, "every message delivered")
}

// waitComponent waits until /api/health reports component in state
// ("up" or "down") and returns the last answer.
func waitComponent(t *testing.T, a *apiClient, component, state string) healthReport {
	t.Helper()
	var h healthReport
	eventually(t, "health to report "+component+" "+state, func() bool {
		h = a.health(t)
		return h.Components[component].Status == state
	})
	return h
}

func TestE2ERabbitMQCutThroughProxy(t *testing.T) {
	t.Parallel()
	var proxy *testenv.Proxy
	h := newHarness(t, rabbitmqBackend, harnessOptions{Configure: func(cfg *config.Config) {
		proxy, cfg.RabbitMQURL = testenv.ProxyURL(t, cfg.RabbitMQURL)
	}})
	outageRun{
		Messages: 150,
		Break:    func(*testing.T) { proxy.Cut() },
		WhileBroken: func(t *testing.T) {
			health := waitComponent(t, h.apiClient, "queue", "down")
			require.Equal(t, ims.EUNAVAILABLE, ims.ErrorCode(health.Err), "a 503: the queue is required in RabbitMQ mode")
			h.idle(t, 5*h.Config.SchedulerInterval)
		},
		Mend: func(t *testing.T) {
			proxy.Restore()
			waitComponent(t, h.apiClient, "queue", "up")
		},
	}.run(t, h)
	require.Zero(t, h.Sink.Stats().Duplicates, "the database fences stale queue entries")
}

func TestE2ERabbitMQPoisonMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rabbitmqBackend, harnessOptions{})
	topo := h.Config.RabbitMQPrefix
	const body = "this is not a claim"

	conn, err := amqp.Dial(h.Config.RabbitMQURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	names := rabbitmq.TopologyFor(topo)
	require.NoError(t, ch.PublishWithContext(ctx, "", names.Queue, false, false,
		amqp.Publishing{ContentType: "text/plain", DeliveryMode: amqp.Persistent, Body: []byte(body)}))

	var poison []ims.AuditEvent
	eventually(t, "a queue.poison audit event", func() bool {
		poison = h.audit(t, client.AuditFilter{Type: ims.EventQueuePoison})
		return len(poison) > 0
	})
	require.Len(t, poison, 1)
	require.Contains(t, poison[0].Details, body)
	eventually(t, "the entry in the dead-letter queue", func() bool {
		q, err := ch.QueueDeclarePassive(names.DeadQueue, true, false, false, false, nil)
		require.NoError(t, err)
		return q.Messages == 1
	})

	// The consumer goes on with real work after the poison.
	m := h.createMessage(t, phoneA, "after the poison")
	h.waitStatus(t, m.ID, ims.StatusSent)
}

// redisHarness runs IMS on PostgreSQL with its sent-cache on Redis behind a
// proxy the test can cut.
func redisHarness(t *testing.T) (*harness, *testenv.Proxy) {
	t.Helper()
	redisURL := testenv.RedisURL(t)
	var proxy *testenv.Proxy
	h := newHarness(t, postgresBackend, harnessOptions{Configure: func(cfg *config.Config) {
		proxy, cfg.RedisURL = testenv.ProxyURL(t, redisURL)
	}})
	return h, proxy
}

func TestE2ERedisSentCache(t *testing.T) {
	t.Parallel()
	h, _ := redisHarness(t)
	m := h.createMessage(t, phoneA, "cached after sending")
	sent := h.waitStatus(t, m.ID, ims.StatusSent)
	require.NotEmpty(t, sent.ProviderMessageID)
	deliveries := h.deliveries(m.ID)
	require.Len(t, deliveries, 1)
	require.Equal(t, deliveries[0].MessageID, sent.ProviderMessageID, "the provider's messageId is kept")

	var got client.MessageDetail
	eventually(t, "the sent-cache entry", func() bool {
		got = h.message(t, m.ID)
		return got.Cache.Cached
	})
	require.True(t, got.Cache.Enabled)
	require.Equal(t, sent.ProviderMessageID, got.Cache.ProviderMessageID)
}

func TestE2ERedisCutThroughProxy(t *testing.T) {
	t.Parallel()
	h, proxy := redisHarness(t)
	require.Equal(t, "ok", waitComponent(t, h.apiClient, "cache", "up").Status)
	outageRun{
		Messages: 60,
		Extra:    1,
		Break:    func(*testing.T) { proxy.Cut() },
		WhileBroken: func(t *testing.T) {
			health := waitComponent(t, h.apiClient, "cache", "down")
			require.NoError(t, health.Err, "a 200: the cache is optional")
			require.Equal(t, "degraded", health.Status)
			// Deliveries go on without the cache.
			m := h.createMessage(t, phoneB, "sent while Redis is away")
			h.waitStatus(t, m.ID, ims.StatusSent)
			got := h.message(t, m.ID)
			require.False(t, got.Cache.Cached)
			require.NotEmpty(t, got.Cache.Error, "the API says the cache could not be asked")
		},
		Mend: func(t *testing.T) {
			proxy.Restore()
			require.Equal(t, "ok", waitComponent(t, h.apiClient, "cache", "up").Status)
		},
	}.run(t, h)
	require.Zero(t, h.Sink.Stats().Duplicates)
}

// TestFaultRabbitMQStopStartApp stops the real broker's application mid-run.
func TestFaultRabbitMQStopStartApp(t *testing.T) {
	requireFaultTests(t)
	h := newHarness(t, rabbitmqBackend, harnessOptions{Configure: slowPace})
	// Registered after the harness, so it runs first: IMS shuts down and the
	// topology is deleted on a running broker, whatever happened.
	t.Cleanup(func() {
		if err := runService(2*time.Minute, "rabbitmqctl", "start_app"); err != nil {
			t.Errorf("restart RabbitMQ: %v", err)
		}
	})
	outageRun{
		Messages: 300,
		Break: func(t *testing.T) {
			require.NoError(t, runService(2*time.Minute, "rabbitmqctl", "stop_app"))
		},
		WhileBroken: func(t *testing.T) {
			waitComponent(t, h.apiClient, "queue", "down")
			h.idle(t, 5*h.Config.SchedulerInterval)
		},
		Mend: func(t *testing.T) {
			require.NoError(t, runService(2*time.Minute, "rabbitmqctl", "start_app"))
			waitComponent(t, h.apiClient, "queue", "up")
		},
	}.run(t, h)
	require.Zero(t, h.Sink.Stats().Duplicates, "the database fences redelivered queue entries")
}

// TestFaultPostgresStopStart stops the real PostgreSQL mid-run while the
// webhook keeps receiving.
func TestFaultPostgresStopStart(t *testing.T) {
	requireFaultTests(t)
	cluster := []string{"--skip-systemctl-redirect", postgresVersion(t), "main"}
	h := newHarness(t, postgresBackend, harnessOptions{Configure: slowPace})
	// Registered after the harness (and its schema), so PostgreSQL is up
	// again before IMS shuts down and the schema is dropped.
	t.Cleanup(func() {
		if err := runService(2*time.Minute, "pg_ctlcluster", append(cluster, "start")...); err != nil &&
			!strings.Contains(err.Error(), "already running") {
			t.Errorf("restart PostgreSQL: %v", err)
		}
	})
	outageRun{
		Messages: 300,
		Break: func(t *testing.T) {
			require.NoError(t, runService(2*time.Minute, "pg_ctlcluster", append(cluster, "stop", "-m", "fast")...))
		},
		WhileBroken: func(t *testing.T) {
			health := waitComponent(t, h.apiClient, "database", "down")
			require.Equal(t, ims.EUNAVAILABLE, ims.ErrorCode(health.Err), "a 503")
			// Stay down for a few ticks (the API's data calls fail now, so
			// only the health check is asked meanwhile).
			for end := time.Now().Add(5 * h.Config.SchedulerInterval); time.Now().Before(end); time.Sleep(pollEvery) {
				require.Equal(t, "down", h.health(t).Components["database"].Status)
			}
		},
		Mend: func(t *testing.T) {
			require.NoError(t, runService(2*time.Minute, "pg_ctlcluster", append(cluster, "start")...))
			waitComponent(t, h.apiClient, "database", "up")
		},
	}.run(t, h)
	// A delivery whose outcome could not be stored is sent again once its
	// lease runs out: at most what was in flight at the stop.
	require.LessOrEqual(t, h.Sink.Stats().Duplicates, int64(h.Config.WorkerConcurrency))
}

// slowPace makes a run of 300 messages last about six seconds, so that a
// real service's stop (which takes seconds) falls in the middle of it.
func slowPace(cfg *config.Config) {
	cfg.SchedulerInterval, cfg.SchedulerBatchSize = 100*time.Millisecond, 5
}

// postgresVersion is the version of the machine's PostgreSQL cluster, as
// .ci/run finds it.
func postgresVersion(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(entries) == 0 {
		testenv.RequireService(t, "a local PostgreSQL cluster (pg_ctlcluster)", err)
		t.Skip("no PostgreSQL cluster under /etc/postgresql")
	}
	return entries[0].Name()
}
