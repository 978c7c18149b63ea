package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	nethttp "net/http"
	"time"
)

// startMetrics serves /metrics on its own address (METRICS_ADDR), so that
// scrapes reach IMS apart from API traffic and the address can stay
// internal. Empty addr: nothing (the API port serves /metrics). It listens
// before returning, so a taken address fails start-up, and returns the
// address it listens on.
func startMetrics(addr string, h nethttp.Handler, log *slog.Logger) (*nethttp.Server, string, error) {
	if addr == "" {
		return nil, "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on METRICS_ADDR %s: %w", addr, err)
	}
	mux := nethttp.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &nethttp.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			log.Error("metrics server stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("metrics served apart from the API", "addr", "http://"+ln.Addr().String()+"/metrics")
	return srv, ln.Addr().String(), nil
}
