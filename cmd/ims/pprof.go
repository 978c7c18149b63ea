package main

import (
	"errors"
	"log/slog"
	nethttp "net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves the Go profiler on its own address (PPROF_ADDR), apart
// from the API, so it is never exposed by accident. Empty addr: nothing.
func startPprof(addr string, log *slog.Logger) *nethttp.Server {
	if addr == "" {
		return nil
	}
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &nethttp.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			log.Error("pprof server stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("pprof enabled", "addr", "http://"+addr+"/debug/pprof/")
	return srv
}
