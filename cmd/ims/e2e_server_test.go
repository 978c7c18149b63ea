package main

// IMS running in-process for the end-to-end tests: NewMain on port 0
// against a receiver, with restart, direct store access and its logs shown
// only when a test fails.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/testenv"
)

// logBuffer collects a test's service logs and prints them only when the
// test fails, so a green run is quiet and a red one explains itself. It
// never calls t.Log from the service's goroutines (that panics once the test
// has ended).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newLogBuffer(t testing.TB, name string) *logBuffer {
	l := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s logs ---\n%s", name, l.String())
		}
	})
	return l
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// harnessOptions shape a harness. The zero value is the suite's defaults.
type harnessOptions struct {
	// Configure adjusts the service settings after the defaults and the
	// backend's.
	Configure func(cfg *config.Config)
	// Receiver shapes the webhook receiver.
	Receiver receiverOptions
}

// harness is IMS running in-process against a receiver on one backend.
type harness struct {
	*apiClient
	*receiver
	Backend backend
	Config  config.Config
	Main    *Main

	logs *logBuffer
}

// newHarness starts IMS in-process (NewMain + Run on port 0) on a fresh
// database of backend b, delivering to a new receiver. Everything stops when
// t ends: the service first, then the receiver, then the database.
func newHarness(t *testing.T, b backend, opts harnessOptions) *harness {
	t.Helper()
	testenv.Integration(t, "IMS running in-process (end-to-end)")
	rcv := newReceiver(t, opts.Receiver)
	cfg := baseConfig(t, rcv.URL)
	b.configure(t, &cfg)
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	h := &harness{receiver: rcv, Backend: b, Config: cfg, logs: newLogBuffer(t, "IMS "+b.name)}
	h.start(t)
	return h
}

// start runs a new Main on h.Config and points the API client at it.
func (h *harness) start(t *testing.T) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMain(h.Config, logger)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		t.Fatalf("start IMS: %v", err)
	}
	h.Main = m
	t.Cleanup(func() { h.stop(t) })
	h.apiClient = newAPIClient(t, "http://"+m.Addr, h.Config.APIKey)
}

// stop closes the running Main, if any. Closing twice is a no-op.
func (h *harness) stop(t *testing.T) {
	t.Helper()
	if h.Main == nil {
		return
	}
	err := h.Main.Close()
	h.Main = nil
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("close IMS: %v", err)
	}
}

// restart shuts the service down gracefully and starts it again on the
// same database (and queue) as a new instance.
func (h *harness) restart(t *testing.T) {
	t.Helper()
	h.stop(t)
	h.Config.InstanceID = "e2e-" + randomID(t, 4)
	h.start(t)
}

// openTestStore opens (and migrates) the database cfg names, as the service
// would, for checks made while no service runs on it. It is closed when t
// ends.
func openTestStore(t *testing.T, cfg config.Config) ims.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}
