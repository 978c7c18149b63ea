package main

// Helpers of the fleet and outage tests (fleet_test.go, fault_test.go), on
// top of the shared e2e helpers: a fleet of real `ims serve` processes on one
// database, a cuttable TCP proxy in front of a broker or cache, a gate that
// holds webhook requests, and a reader of the fleet's claims.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
)

// ---------------------------------------------------------------------------
// A fleet of processes

// fleet is N `ims serve` processes on one PostgreSQL database, each with its
// own INSTANCE_ID and port.
type fleet struct {
	Config config.Config // the shared settings; InstanceID differs per process
	Procs  []*imsProcess
}

// startFleet starts n processes configured by cfg on one database, named
// <cfg.InstanceID>-1..n, and waits until all of them serve.
func startFleet(t *testing.T, cfg config.Config, n int) *fleet {
	t.Helper()
	f := &fleet{Config: cfg}
	for i := range n {
		c := cfg
		c.InstanceID = cfg.InstanceID + "-" + string(rune('1'+i))
		f.Procs = append(f.Procs, startIMS(t, c))
	}
	return f
}

// byID returns the process named id.
func (f *fleet) byID(t testing.TB, id string) *imsProcess {
	t.Helper()
	for _, p := range f.Procs {
		if p.Config.InstanceID == id {
			return p
		}
	}
	t.Fatalf("no instance %q in the fleet", id)
	return nil
}

// alive returns the processes that have not exited.
func (f *fleet) alive() []*imsProcess {
	return slices.DeleteFunc(slices.Clone(f.Procs), func(p *imsProcess) bool {
		select {
		case <-p.exited:
			return true
		default:
			return false
		}
	})
}

// waitAgreedLeader waits until every live process names the same leader
// through GET /api/control, that leader is one of them, and it alone says
// is_leader. It returns the leader.
func (f *fleet) waitAgreedLeader(t *testing.T) *imsProcess {
	t.Helper()
	var leader string
	eventually(t, "the fleet to agree on one live leader", func() bool {
		procs := f.alive()
		leader = procs[0].controlState(t).Leader
		if leader == "" || !slices.ContainsFunc(procs, func(p *imsProcess) bool { return p.Config.InstanceID == leader }) {
			return false
		}
		for _, p := range procs {
			st := p.controlState(t)
			if st.Leader != leader || st.IsLeader != (p.Config.InstanceID == leader) {
				return false
			}
		}
		return true
	})
	return f.byID(t, leader)
}

// followers returns the live processes other than leader.
func (f *fleet) followers(leader *imsProcess) []*imsProcess {
	return slices.DeleteFunc(f.alive(), func(p *imsProcess) bool { return p == leader })
}

// waitLocallyRunning waits until every live process's own scheduler (as its
// health check reports it, without reading the database) is running or
// stopped, i.e. a start or stop given through one instance has reached all.
func (f *fleet) waitLocallyRunning(t *testing.T, running bool) {
	t.Helper()
	want := "stopped;"
	if running {
		want = "running;"
	}
	for _, p := range f.alive() {
		eventually(t, p.Config.InstanceID+" to report its scheduler "+want, func() bool {
			return strings.HasPrefix(p.health(t).Components["scheduler"].Detail, want)
		})
	}
}

// ---------------------------------------------------------------------------
// The fleet's claims

// claimTick is one claim of the audit trail: the messages one instance
// claimed in one statement share its actor and timestamp.
type claimTick struct {
	Actor string
	At    time.Time
	Count int
}

// claimTicks returns every claim recorded in the audit trail, oldest first.
func (a *apiClient) claimTicks(t testing.TB) []claimTick {
	t.Helper()
	page, err := a.API.ListAudit(t.Context(), client.AuditFilter{Type: ims.EventMessageClaimed, Limit: 1000})
	require.NoError(t, err, "list the claims")
	require.Empty(t, page.NextCursor, "more claims than one page: widen the read")
	var ticks []claimTick
	for _, e := range slices.Backward(page.Events) {
		if n := len(ticks); n > 0 && ticks[n-1].Actor == e.Actor && ticks[n-1].At.Equal(e.CreatedAt) {
			ticks[n-1].Count++
			continue
		}
		ticks = append(ticks, claimTick{Actor: e.Actor, At: e.CreatedAt, Count: 1})
	}
	slices.SortStableFunc(ticks, func(x, y claimTick) int { return x.At.Compare(y.At) })
	return ticks
}

// requireFleetPace checks that the claims of the whole fleet kept the pace of
// one leader: no claim larger than batch, and no window of k intervals with
// more than batch*(k+3) claims. A lone leader claims at most k+1 batches in
// such a window, one more when a slow tick is caught up, and one more across
// a failover; two instances pacing at once would claim about twice k batches.
func requireFleetPace(t testing.TB, ticks []claimTick, interval time.Duration, batch, k int) {
	t.Helper()
	window := time.Duration(k) * interval
	limit := batch * (k + 3)
	for i, tick := range ticks {
		require.LessOrEqual(t, tick.Count, batch, "claim %d (%s at %s) is larger than a batch", i, tick.Actor, tick.At)
		inWindow := 0
		for _, u := range ticks[i:] {
			if u.At.Sub(tick.At) >= window {
				break
			}
			inWindow += u.Count
		}
		require.LessOrEqual(t, inWindow, limit, "%d claims in the %s from %s: more than one leader's pace", inWindow, window, tick.At)
	}
}

// ---------------------------------------------------------------------------
// Webhook gate

// gate holds webhook requests while closed, in front of the sink. It lets a
// test crash an instance while its deliveries are in flight but none of them
// sits between the provider's 2xx and the database write (the one window
// where at-least-once delivery may send twice): hold, let the instance's
// requests pile up at the gate, kill it, then drop: the held requests never
// reach the sink, and later ones pass.
type gate struct {
	mu   sync.Mutex
	open chan struct{} // closed while the gate lets requests through
	drop chan struct{} // closed once the requests held so far are dropped
}

func newGate() *gate {
	g := &gate{open: make(chan struct{}), drop: make(chan struct{})}
	close(g.open)
	return g
}

// hold closes the gate: requests from now on wait.
func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open, g.drop = make(chan struct{}), make(chan struct{})
}

// dropHeld answers every held request 503 without passing it on (a request
// whose client died gets no answer at all) and opens the gate. Dropping
// instead of releasing matters: the server may not yet have noticed that the
// client of a held request is gone, and a released request would reach the
// sink on behalf of a dead instance.
func (g *gate) dropHeld() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.drop)
	// Later requests see a fresh drop channel and the open gate only.
	g.open, g.drop = make(chan struct{}), make(chan struct{})
	close(g.open)
}

func (g *gate) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		open, drop := g.open, g.drop
		g.mu.Unlock()
		select {
		case <-open:
			next.ServeHTTP(w, r)
		case <-drop:
			http.Error(w, "dropped by the test's gate", http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
	})
}

// ---------------------------------------------------------------------------
// Fault tests

// faultTestsEnv enables the tests that stop and start the machine's own
// services; `make test` runs them one package at a time after the suite.
const faultTestsEnv = "IMS_FAULT_TESTS"

// requireFaultTests skips t unless IMS_FAULT_TESTS=1.
func requireFaultTests(t *testing.T) {
	t.Helper()
	if os.Getenv(faultTestsEnv) != "1" {
		t.Skipf("stops a local service: set %s=1 to run (make test does, after the main suite)", faultTestsEnv)
	}
}

// runService runs an administration command (pg_ctlcluster, rabbitmqctl)
// bounded by timeout and returns its error with its output.
func runService(timeout time.Duration, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
