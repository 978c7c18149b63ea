package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/insiderone/ims/internal/bench"
)

// runBench runs the load harness (package bench) against this very binary,
// started as a separate `ims serve` process, and prints the summary: a table
// on stdout (or JSON with -json), a progress line on stderr. It fails when a
// message was lost, a create failed, or the run timed out.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = commandUsage(fs, "bench", "Load test: create N messages, deliver them to a sink, and report throughput, latency, lost and duplicated deliveries.",
		"ims bench -n 10000", "ims bench -db postgres -queue rabbitmq -n 50000 -json")
	var cfg bench.Config
	fs.IntVar(&cfg.N, "n", bench.DefaultN, "messages to create and deliver")
	fs.StringVar(&cfg.DB, "db", bench.DBSQLite, "database: sqlite (a temp file) or postgres (a fresh schema, dropped afterwards)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", bench.DefaultPostgresBase, "PostgreSQL server for -db postgres")
	fs.StringVar(&cfg.Queue, "queue", bench.QueueDB, "queue mode: db or rabbitmq (a unique prefix, deleted afterwards)")
	fs.StringVar(&cfg.RabbitMQURL, "rabbitmq-url", bench.DefaultRabbitMQURL, "RabbitMQ broker for -queue rabbitmq")
	fs.StringVar(&cfg.Create, "create", bench.CreateAPI, "how messages are created: api (one POST each) or bulk (POST /api/messages/batch)")
	fs.IntVar(&cfg.Clients, "clients", 0, "concurrent creating clients (default 64 for api, 4 for bulk)")
	fs.IntVar(&cfg.BulkSize, "bulk-size", bench.DefaultBulkSize, "messages per bulk request")
	fs.IntVar(&cfg.BatchSize, "batch-size", bench.DefaultBatchSize, "SCHEDULER_BATCH_SIZE")
	fs.IntVar(&cfg.Concurrency, "concurrency", bench.DefaultConcurrency, "WORKER_CONCURRENCY: webhook calls in flight")
	fs.DurationVar(&cfg.Interval, "interval", 0, "SCHEDULER_INTERVAL: 0 delivers continuously; e.g. 2m paces batch-size messages per interval")
	fs.Float64Var(&cfg.Rate, "rate", 0, "steady mode: create this many messages per second while the scheduler runs (latency under a known load)")
	fs.BoolVar(&cfg.Raw, "raw", false, "also measure the ceiling: the webhook client posting straight to a sink, no IMS")
	fs.Float64Var(&cfg.FailureRate, "failure-rate", 0, "share of webhook calls (0..1) the sink fails with HTTP 500")
	fs.DurationVar(&cfg.Timeout, "timeout", bench.DefaultTimeout, "bound on the whole run")
	fs.StringVar(&cfg.Binary, "ims", "", "the ims binary to run with serve (default: this executable)")
	fs.Func("serve-env", "KEY=VALUE setting for `ims serve` (repeatable), e.g. WEBHOOK_RATE_LIMIT=1000000", func(kv string) error {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", kv)
		}
		cfg.ServeEnv = append(cfg.ServeEnv, kv)
		return nil
	})
	asJSON := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find this executable (or pass -ims): %w", err)
		}
		cfg.Binary = exe
	}
	if !*quiet {
		cfg.Progress = stderr
		// A redrawn bar only makes sense on a terminal; a log gets lines.
		cfg.ProgressLines = !isTerminal(stderr)
	}
	cfg.Logs = stderr

	res, err := bench.Run(ctx, cfg)
	if res != nil {
		if werr := writeBenchResult(stdout, res, *asJSON); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func writeBenchResult(w io.Writer, res *bench.Result, asJSON bool) error {
	if asJSON {
		return res.WriteJSON(w)
	}
	return res.WriteTable(w)
}
