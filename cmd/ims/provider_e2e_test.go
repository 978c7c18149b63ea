package main

// The provider misbehaving, end to end, against the real sink behind a
// scripted front (providerScript): an outage (503 for a while), a key the
// provider refuses (401 until fixed), a throttle (429 with Retry-After)
// and a fleet-wide rate limit. What is asserted is what an operator is
// promised: nothing dead, everything delivered afterwards, few calls
// during the trouble, and health, control and the audit trail telling it.

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
)

// providerScript answers in the sink's place while its status is set:
// every request for a while, or (throttleFor) every request from the first
// one for a window.
type providerScript struct {
	mu         sync.Mutex
	status     int
	retryAfter string
	// window, when set, ends the scripted answers window after the first
	// request answered with them.
	window      time.Duration
	windowStart time.Time
}

func (p *providerScript) set(status int, retryAfter string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.retryAfter = status, retryAfter
}

func (p *providerScript) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		status, ra := p.status, p.retryAfter
		if status != 0 && p.window > 0 {
			if p.windowStart.IsZero() {
				p.windowStart = time.Now()
			} else if time.Since(p.windowStart) > p.window {
				status, p.status = 0, 0
			}
		}
		p.mu.Unlock()
		if status == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.WriteHeader(status)
	})
}

// providerConfigure is the settings of these tests: continuous delivery,
// no retries at all (so that any budget spent would dead-letter at once),
// a breaker that opens fast and probes often.
func providerConfigure(cfg *config.Config) {
	cfg.SchedulerInterval, cfg.SchedulerBatchSize, cfg.WorkerConcurrency = 0, 10, 8
	cfg.MaxRetries = 0
	cfg.BreakerThreshold, cfg.BreakerProbe = 5, 200*time.Millisecond
}

// requireProviderDown waits for the circuit to open and checks what the
// API and health say about it.
func requireProviderDown(t *testing.T, a *apiClient, reason string) {
	t.Helper()
	eventually(t, "the circuit to open", func() bool { return a.controlState(t).Circuit != ims.CircuitClosed })
	st := a.controlState(t)
	require.Contains(t, st.LastError, reason)
	require.NotNil(t, st.CircuitSince)
	h := a.health(t)
	require.NoError(t, h.Err, "a provider outage is not an IMS outage: 200")
	require.Equal(t, "degraded", h.Status)
	require.Equal(t, "down", h.Components["webhook"].Status)
	require.Contains(t, h.Components["webhook"].Detail, reason)
	require.Contains(t, h.Components["webhook"].Detail, "since ")
}

// requireStory checks the audit trail of an outage: opened with the
// reason, then closed.
func requireStory(t *testing.T, a *apiClient, reason string) {
	t.Helper()
	opened := a.audit(t, client.AuditFilter{Type: ims.EventCircuitOpened})
	require.NotEmpty(t, opened)
	require.Contains(t, opened[0].Details, reason)
	require.NotEmpty(t, a.audit(t, client.AuditFilter{Type: ims.EventCircuitClosed}))
	require.Equal(t, ims.CircuitClosed, a.controlState(t).Circuit)
}

func TestE2EProviderOutage(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		script := &providerScript{}
		script.set(http.StatusServiceUnavailable, "")
		h := newHarness(t, b, harnessOptions{Configure: providerConfigure, Receiver: receiverOptions{Webhook: script.handler}})
		const n = 300
		h.createMessages(t, n, phoneA)

		requireProviderDown(t, h.apiClient, "HTTP 503")
		before := h.received()
		h.idle(t, 3*time.Second)
		// Probes only: 200ms doubling gives a handful in 3s.
		require.LessOrEqual(t, h.received()-before, 8, "few calls while the circuit is open")
		require.Empty(t, h.deadLetterList(t), "nothing dead because the provider was down")

		script.set(0, "")
		h.waitAllSent(t, n)
		require.Empty(t, h.deadLetterList(t))
		requireStory(t, h.apiClient, "HTTP 503")
	})
}

// A receiver that refuses IMS's key until it is fixed, on a fleet of two
// processes on one PostgreSQL database: both obey the one circuit.
func TestE2EFleetRefusedKeyUntilFixed(t *testing.T) {
	t.Parallel()
	script := &providerScript{}
	script.set(http.StatusUnauthorized, "")
	rcv := newReceiver(t, receiverOptions{Webhook: script.handler})
	cfg := fleetConfig(t, postgresBackend, rcv, 0, 10)
	providerConfigure(&cfg)
	f := startFleet(t, cfg, 2)
	const n = 200
	msgs := f.createSpread(t, n)
	f.Procs[0].startScheduler(t)

	for _, p := range f.Procs {
		requireProviderDown(t, p.apiClient, "HTTP 401")
	}
	before := rcv.received()
	f.Procs[0].idle(t, 2*time.Second)
	require.LessOrEqual(t, rcv.received()-before, 6, "the fleet sends probes only")
	require.Empty(t, f.Procs[1].deadLetterList(t), "a refused key dead-letters nothing")

	script.set(0, "") // the key is fixed
	f.Procs[1].waitAllStatus(t, msgs, ims.StatusSent)
	require.Empty(t, f.Procs[0].deadLetterList(t))
	requireStory(t, f.Procs[0].apiClient, "HTTP 401")
}

// A 429 with Retry-After: a fleet-wide silence of that length, then
// delivery, nothing dead though WEBHOOK_MAX_RETRIES is 0.
func TestE2EThrottleRetryAfter(t *testing.T) {
	t.Parallel()
	forEachBackend(t, backends(), func(t *testing.T, b backend) {
		// Every request of the first 300ms is throttled: the calls in
		// flight together when the first 429 comes back.
		script := &providerScript{window: 300 * time.Millisecond}
		script.set(http.StatusTooManyRequests, "2")
		h := newHarness(t, b, harnessOptions{Configure: providerConfigure, Receiver: receiverOptions{Webhook: script.handler}})
		const n = 50
		h.createMessages(t, n, phoneA)
		h.waitAllSent(t, n)
		require.Empty(t, h.deadLetterList(t), "a 429 never counts toward WEBHOOK_MAX_RETRIES")

		reqs := h.all()
		first := reqs[0]
		require.Equal(t, http.StatusTooManyRequests, first.Status)
		for _, r := range reqs {
			if r.Status == http.StatusAccepted {
				require.GreaterOrEqual(t, r.ReceivedAt.Sub(first.ReceivedAt), 2*time.Second,
					"no delivery inside the Retry-After of the first 429 (request %d)", r.Seq)
			}
		}
		throttled := h.audit(t, client.AuditFilter{Type: ims.EventThrottled})
		require.NotEmpty(t, throttled)
		require.Contains(t, throttled[0].Details, "HTTP 429")
	})
}

// arrivalJitter is how much later than its token a call may reach the
// receiver: the limiter grants tokens in IMS, the receiver stamps arrivals,
// and on a loaded machine the hop between them varies (calls granted
// 50 ms apart can arrive together). Without it the check below failed by
// a hair (42 calls where 41.998 were allowed) under CI load.
const arrivalJitter = 250 * time.Millisecond

// requireRateHeld checks arrivals against the limit over every window
// between two arrivals: at most burst + rate·(window + arrivalJitter) (+1
// for the call a token granted at the window's edge may bring).
func requireRateHeld(t *testing.T, reqs []webhookRequest, rate, burst float64) {
	t.Helper()
	at := make([]time.Time, len(reqs))
	for i, r := range reqs {
		at[i] = r.ReceivedAt
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	for i := range at {
		for j := i; j < len(at); j++ {
			window := at[j].Sub(at[i]).Seconds()
			require.LessOrEqualf(t, float64(j-i+1), burst+rate*(window+arrivalJitter.Seconds())+1,
				"%d calls within %.3fs: more than burst %g + %g/s", j-i+1, window, burst, rate)
		}
	}
}

func TestE2ERateLimit(t *testing.T) {
	t.Parallel()
	const rate, n = 20.0, 100
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqliteBackend, harnessOptions{Configure: func(cfg *config.Config) {
			providerConfigure(cfg)
			cfg.RateLimit = rate
		}})
		h.createMessages(t, n, phoneA)
		h.waitAllSent(t, n)
		requireRateHeld(t, h.all(), rate, rate)
		st := h.controlState(t)
		require.Equal(t, rate, st.RateLimit)
		require.Nil(t, st.PausedUntil)
	})
	t.Run("postgres fleet of two", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t, receiverOptions{})
		cfg := fleetConfig(t, postgresBackend, rcv, 0, 10)
		providerConfigure(&cfg)
		cfg.RateLimit = rate
		f := startFleet(t, cfg, 2)
		msgs := f.createSpread(t, n)
		f.Procs[0].startScheduler(t)
		f.Procs[1].waitAllStatus(t, msgs, ims.StatusSent)
		requireRateHeld(t, rcv.all(), rate, rate)
	})
}

// The circuit is stored: a restarted instance obeys it at once, sending
// nothing until a probe is due, and the probe's success closes it.
func TestE2ECircuitSurvivesRestart(t *testing.T) {
	t.Parallel()
	script := &providerScript{}
	script.set(http.StatusUnauthorized, "")
	h := newHarness(t, sqliteBackend, harnessOptions{
		Configure: func(cfg *config.Config) {
			providerConfigure(cfg)
			cfg.BreakerProbe = 2 * time.Second
		},
		Receiver: receiverOptions{Webhook: script.handler},
	})
	msgs := h.createMessages(t, 20, phoneA)
	requireProviderDown(t, h.apiClient, "HTTP 401")

	h.restart(t)
	st := h.controlState(t)
	require.NotEqual(t, ims.CircuitClosed, st.Circuit, "the restart keeps the circuit")
	require.Contains(t, st.LastError, "HTTP 401")

	script.set(0, "")
	h.waitAllStatus(t, msgs, ims.StatusSent)
	require.Empty(t, h.deadLetterList(t))
	requireStory(t, h.apiClient, "HTTP 401")
}
