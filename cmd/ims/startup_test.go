package main

// Start-up failures and dependencies that are down at start: a failure
// prints one line naming the cause and exits, a dependency that comes back
// by itself does not stop IMS from starting, and Close always returns.

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/testenv"
)

// startBound guards a start-up or a shutdown that must not hang. It is a
// hang guard, not a timing assertion.
const startBound = 30 * time.Second

// busyPort holds a port on every interface, as another program would, and
// returns it.
func busyPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// closedURL returns rawURL pointing at a loopback port where nothing listens.
func closedURL(t *testing.T, rawURL string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	u.Host = addr
	return u.String()
}

// within runs f and fails t when it has not returned after startBound.
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(startBound):
		t.Fatalf("%s did not return within %s", what, startBound)
		var zero T
		return zero
	}
}

// TestMainRunFailsAndCloses fails Run at different steps; each time Run
// returns an error naming the cause and Close returns (it used to wait for
// goroutines that a failed Run had never started).
func TestMainRunFailsAndCloses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		configure func(t *testing.T, cfg *config.Config)
		wantErr   string
		wantIs    error
	}{
		{
			name:      "port in use",
			configure: func(t *testing.T, cfg *config.Config) { cfg.ServerPort = busyPort(t) },
			wantErr:   "address already in use — set SERVER_PORT or -port",
			wantIs:    syscall.EADDRINUSE,
		},
		{
			name: "database unreachable",
			configure: func(t *testing.T, cfg *config.Config) {
				cfg.DatabaseURL = closedURL(t, testenv.DefaultDatabaseURL)
			},
			wantErr: "open PostgreSQL (DATABASE_URL)",
		},
		{
			// The database is open when the queue fails: the case that hung.
			name: "broker refuses the credentials",
			configure: func(t *testing.T, cfg *config.Config) {
				u, err := url.Parse(testenv.RabbitMQURL(t))
				require.NoError(t, err)
				u.User = url.UserPassword("guest", "not-the-password")
				cfg.RabbitMQEnabled, cfg.RabbitMQURL, cfg.RabbitMQPrefix = true, u.String(), "ims-startup-"+randomID(t, 4)
			},
			wantErr: "rabbitmq",
		},
		{
			name:      "API key equal to the webhook key",
			configure: func(_ *testing.T, cfg *config.Config) { cfg.APIKey = cfg.WebhookAuthKey },
			wantErr:   "API_KEY must differ from WEBHOOK_AUTH_KEY",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t, "http://127.0.0.1:9/webhook")
			tt.configure(t, &cfg)
			m := NewMain(cfg, slog.New(slog.NewTextHandler(newLogBuffer(t, "IMS"), nil)))
			err := within(t, "Run", func() error { return m.Run(t.Context()) })
			require.ErrorContains(t, err, tt.wantErr)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}
			within(t, "Close", func() error { return m.Close() })
			require.Equal(t, m.Close(), m.Close(), "Close twice returns the first result")
		})
	}
}

// TestE2EBinaryBusyPort runs `ims serve` and `ims demo` on a port another
// program holds: each exits 1 with one line that says what to change.
func TestE2EBinaryBusyPort(t *testing.T) {
	t.Parallel()
	port := busyPort(t)
	tests := []struct {
		name    string
		args    []string
		env     []string
		wantErr string
	}{
		{
			name: "serve",
			args: []string{"serve"},
			env: []string{"SERVER_PORT=" + strconv.Itoa(port), "WEBHOOK_URL=http://127.0.0.1:9/webhook",
				"WEBHOOK_AUTH_KEY=webhook-key", "API_KEY=api-key"},
			wantErr: fmt.Sprintf("ims: listen on :%d: address already in use — set SERVER_PORT or -port\n", port),
		},
		{
			name:    "serve -port",
			args:    []string{"serve", "-port", strconv.Itoa(port)},
			env:     []string{"WEBHOOK_URL=http://127.0.0.1:9/webhook", "WEBHOOK_AUTH_KEY=webhook-key", "API_KEY=api-key"},
			wantErr: fmt.Sprintf("ims: listen on :%d: address already in use — set SERVER_PORT or -port\n", port),
		},
		{
			name: "demo",
			args: []string{"demo", "-port", strconv.Itoa(port)},
			wantErr: fmt.Sprintf("ims: start demo: listen on :%d: address already in use — "+
				"is another IMS or demo running? Choose a free port with -port, or -port 0 for any (the demo ignores SERVER_PORT)\n", port),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, cleanEnv(t, tt.env...), startBound, tt.args...)
			require.Equal(t, 1, res.ExitCode, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			require.Equal(t, tt.wantErr, res.Stderr, "one line naming the cause")
			require.NotContains(t, res.Stdout, "Created", "the demo did not go on")
		})
	}
}

// TestE2EBinaryRabbitMQDownAtStart starts `ims serve` in RabbitMQ mode with
// the broker unreachable: it serves, health says the queue is down, a
// message waits in the database, and SIGTERM ends it within SHUTDOWN_TIMEOUT.
func TestE2EBinaryRabbitMQDownAtStart(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, receiverOptions{})
	cfg := processConfig(t, postgresBackend, rcv)
	cfg.RabbitMQEnabled, cfg.RabbitMQPrefix = true, "ims-e2e-"+randomID(t, 6)
	cfg.RabbitMQURL = closedURL(t, testenv.DefaultRabbitMQURL)
	cfg.ShutdownTimeout = 5 * time.Second
	p := startIMS(t, cfg)

	health := p.health(t)
	require.Equal(t, ims.EUNAVAILABLE, ims.ErrorCode(health.Err), "a 503: the queue is required in RabbitMQ mode")
	require.Equal(t, "down", health.Components["queue"].Status)
	require.Equal(t, "up", health.Components["database"].Status)
	m := p.createMessage(t, phoneA, "waits for the broker")
	require.Equal(t, ims.StatusPending, p.message(t, m.ID).Message.Status)

	p.signal(t, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(cfg.ShutdownTimeout + 5*time.Second):
		t.Fatalf("ims serve did not exit within SHUTDOWN_TIMEOUT (%s) after SIGTERM", cfg.ShutdownTimeout)
	}
	require.Equal(t, 0, p.exitCode, "a graceful shutdown exits 0")
	got, err := openTestStore(t, cfg).GetMessage(t.Context(), m.ID)
	require.NoError(t, err)
	require.Equal(t, ims.StatusPending, got.Status, "nothing is lost: the message waits in the database")
}

// TestE2EDependenciesComeBack starts IMS with RabbitMQ (or Redis) cut off:
// it serves, health reports the component down, and once the component is
// reachable the waiting message is delivered.
func TestE2EDependenciesComeBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		backend   backend
		component string
		proxy     func(t *testing.T, cfg *config.Config) *testenv.Proxy
	}{
		{
			name: "rabbitmq", backend: rabbitmqBackend, component: "queue",
			proxy: func(t *testing.T, cfg *config.Config) *testenv.Proxy {
				p, u := testenv.ProxyURL(t, cfg.RabbitMQURL)
				cfg.RabbitMQURL = u
				return p
			},
		},
		{
			name: "redis", backend: sqliteBackend, component: "cache",
			proxy: func(t *testing.T, cfg *config.Config) *testenv.Proxy {
				p, u := testenv.ProxyURL(t, testenv.RedisURL(t))
				cfg.RedisURL = u
				return p
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var proxy *testenv.Proxy
			h := newHarness(t, tt.backend, harnessOptions{Configure: func(cfg *config.Config) {
				proxy = tt.proxy(t, cfg)
				proxy.Cut()
			}})
			require.Equal(t, "down", h.health(t).Components[tt.component].Status)
			m := h.createMessage(t, phoneA, "sent once "+tt.name+" is back")

			proxy.Restore()
			waitComponent(t, h.apiClient, tt.component, "up")
			h.waitStatus(t, m.ID, ims.StatusSent)
			require.Equal(t, 1, h.acceptedCount(m.ID))
		})
	}
}

// TestCloseIsBoundedByShutdownTimeout keeps an API request open (a client
// that sends half its body and waits) across Close: the HTTP shutdown waits
// for it only as long as SHUTDOWN_TIMEOUT allows, not a fixed 10 s.
func TestCloseIsBoundedByShutdownTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend, harnessOptions{Configure: func(cfg *config.Config) {
		cfg.ShutdownTimeout = time.Second
	}})
	conn, err := net.Dial("tcp", h.Main.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = fmt.Fprintf(conn, "POST /api/messages HTTP/1.1\r\nHost: ims\r\nAuthorization: %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"phone_number\"", testAPIKey)
	require.NoError(t, err)
	h.idle(t, 100*time.Millisecond) // the server reads the headers and waits for the body

	main := h.Main
	h.Main = nil
	start := time.Now()
	err = within(t, "Close", func() error { return main.Close() })
	took := time.Since(start)
	require.Error(t, err, "the open request outlived SHUTDOWN_TIMEOUT")
	require.Less(t, took, h.Config.ShutdownTimeout+5*time.Second, "Close is bounded by SHUTDOWN_TIMEOUT (1s), not a fixed 10s")
}
