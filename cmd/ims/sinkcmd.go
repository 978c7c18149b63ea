package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/insiderone/ims/internal/sink"
)

// runSink serves a local webhook receiver that answers like the provider.
func runSink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = commandUsage(fs, "sink", "Run a local webhook receiver that answers like the SMS provider, with optional failures, latency and timeouts.",
		"ims sink", "ims sink -addr 127.0.0.1:9090 -failure-rate 0.2 -fail-status 503 -retry-after 2s")
	addr := fs.String("addr", "127.0.0.1:9090", "address to listen on")
	var cfg sink.Config
	fs.Float64Var(&cfg.FailureRate, "failure-rate", 0, "share of requests (0..1) answered with -fail-status")
	fs.IntVar(&cfg.FailStatus, "fail-status", 500, "HTTP status of injected failures (e.g. 500, 503, 429, 400)")
	fs.DurationVar(&cfg.Latency, "latency", 0, "delay before every answer, e.g. 50ms")
	fs.Float64Var(&cfg.TimeoutRate, "timeout-rate", 0, "share of requests (0..1) not answered, so the client times out")
	fs.DurationVar(&cfg.MaxHang, "max-hang", sink.DefaultMaxHang, "longest a -timeout-rate request hangs before a 504")
	fs.DurationVar(&cfg.RetryAfter, "retry-after", 0, "Retry-After sent with injected 429/503 answers, e.g. 2s")
	fs.StringVar(&cfg.AuthKey, "auth-key", "", "if set, answer 401 unless x-ins-auth-key matches")
	fs.Int64Var(&cfg.Seed, "seed", time.Now().UnixNano(), "random seed of the fault injection (same seed, same failures)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sink: listening on http://%s (any path accepts webhooks; GET /stats shows counts and duplicates)\n", *addr)
	return sink.Serve(ctx, *addr, cfg, newLogger(stderr, "info", "text"))
}
