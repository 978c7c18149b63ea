// Command ims is the Insider Message Sender: one binary with the service
// (serve), its migrations (migrate), a self-contained demo (demo), a local
// webhook receiver (sink) and a load generator (bench).
//
// main only parses the subcommand, handles signals and turns errors into exit
// codes; the work is done by types with Run/Close so tests can drive them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	// Quiet hours judge each recipient's local time: the tz database is
	// compiled in, so a machine or image without one still knows every
	// zone instead of falling back to QUIET_HOURS_DEFAULT_TZ.
	_ "time/tzdata"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `ims — the Insider Message Sender

Usage:
  ims <command> [flags]

Commands:
  serve     Run the service: HTTP API, scheduler and webhook delivery.
            Configured by environment variables and an optional .env file
            (see README: DATABASE_URL, WEBHOOK_URL, WEBHOOK_AUTH_KEY, ...).
  migrate   Apply the embedded database migrations and exit.
  demo      Run the whole thing on a bare machine: the service on an embedded
            SQLite database, a built-in webhook receiver and sample messages.
  sink      Run a local webhook receiver that answers like the SMS provider,
            with optional injected failures, latency and timeouts.
  bench     Load test: create N messages, deliver them to a sink, report
            throughput, latency, lost and duplicated deliveries.
  healthcheck
            Ask a running IMS for /api/health; exit 0 when it is up
            (for container health checks: the image has no curl).
  version   Print the version.
  help      Show this help. "ims <command> -h" shows a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts a graceful shutdown (bounded by
	// SHUTDOWN_TIMEOUT); a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ims:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

// run dispatches to a subcommand. It returns when the command is done or
// ctx ends (SIGINT/SIGTERM) and the command has shut down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stderr)
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "sink":
		return runSink(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "ims", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
