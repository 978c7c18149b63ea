package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownTimeout bounds how long Serve waits for requests in flight.
const shutdownTimeout = 5 * time.Second

// statsLogEvery is how often Serve logs a summary while requests arrive.
const statsLogEvery = 10 * time.Second

// Serve listens on addr and runs a Sink with cfg until ctx ends. It is the
// `ims sink` subcommand.
func Serve(ctx context.Context, addr string, cfg Config, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("sink config: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("sink listen on %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, New(cfg), logger)
}

// ServeListener serves s on ln until ctx ends, then closes s (releasing
// held requests) and shuts the server down within a bounded time. It lets
// the demo and tests run a sink on port 0 and learn its address from ln.
func ServeListener(ctx context.Context, ln net.Listener, s *Sink, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("sink listening", "url", "http://"+ln.Addr().String()+"/",
		"failure_rate", s.cfg.FailureRate, "fail_status", s.cfg.FailStatus,
		"timeout_rate", s.cfg.TimeoutRate, "latency", s.cfg.Latency,
		"auth", s.cfg.AuthKey != "", "seed", s.cfg.Seed)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logCtx, stopLog := context.WithCancel(ctx)
	defer stopLog()
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		s.logStats(logCtx, logger)
	}()

	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
	}
	s.Close()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	if serveErr == nil {
		serveErr = <-served
	}
	stopLog()
	<-logDone
	logger.Info("sink stopped", "stats", s.Stats())

	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("sink serve: %w", serveErr)
	}
	if shutdownErr != nil {
		return fmt.Errorf("sink shutdown: %w", shutdownErr)
	}
	return nil
}

// logStats logs a summary every statsLogEvery while new requests arrive,
// so an operator watching `ims sink` sees traffic without polling /stats.
func (s *Sink) logStats(ctx context.Context, logger *slog.Logger) {
	t := time.NewTicker(statsLogEvery)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st := s.Stats()
			if st.Received != last {
				last = st.Received
				logger.Info("sink stats", "received", st.Received, "accepted", st.Accepted,
					"unique_accepted", st.UniqueAccepted, "duplicates", st.Duplicates,
					"failures_injected", st.FailuresInjected, "timeouts_injected", st.TimeoutsInjected)
			}
		}
	}
}
