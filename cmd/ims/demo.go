package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/sink"
)

// Demo settings: the API key is the one the README's curl examples use, so
// they work as written against a running demo.
const (
	demoAPIKey     = "your-api-key"
	demoWebhookKey = "demo-webhook-key"
)

var demoPhones = []string{"+905551234567", "+14155550100", "+442071838750", "+4915112345678", "+33612345678"}

// demoUnreachable is a number the demo's receiver always rejects with 422,
// as a provider rejects a number it cannot reach: its messages are
// dead-lettered at once, so the console has dead letters to show and replay.
const demoUnreachable = "+15005550001"

// demoDeadEvery: every demoDeadEvery-th sample message goes to
// demoUnreachable.
const demoDeadEvery = 4

// runDemo runs IMS on a fresh embedded SQLite database against a built-in
// webhook receiver that fails now and then, creates sample messages through
// the API and prints the audit trail as it happens.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = commandUsage(fs, "demo", "Run IMS on a bare machine: an embedded SQLite database, a built-in webhook receiver and sample messages, with the console at /.",
		"ims demo", "ims demo -port 0 -messages 20 -trickle 2s", "ims demo -exit")
	count := fs.Int("messages", 8, "sample messages to create first (every 4th goes to "+demoUnreachable+", which the receiver rejects: dead letters to replay)")
	port := fs.Int("port", 8080, "HTTP port of the API and the console (0 = any free port)")
	failRate := fs.Float64("failure-rate", 0.25, "share of webhook calls the built-in receiver fails with HTTP 500, to show retries")
	trickle := fs.Duration("trickle", 5*time.Second, "after the first batch, create one more sample message this often, so the console's charts move (0 = none)")
	exit := fs.Bool("exit", false, "exit once every sample message of the first batch is sent or dead, instead of serving on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	dir, err := os.MkdirTemp("", "ims-demo-")
	if err != nil {
		return fmt.Errorf("create demo directory: %w", err)
	}
	defer os.RemoveAll(dir)

	hookURL, stopSink, err := startDemoSink(*failRate)
	if err != nil {
		return err
	}
	defer stopSink()

	cfg := config.Config{
		SQLitePath: filepath.Join(dir, "ims-demo.db"), WebhookURL: hookURL, WebhookAuthKey: demoWebhookKey,
		WebhookTimeout: 5 * time.Second, MaxRetries: 3, RetryBaseDelay: 500 * time.Millisecond, RetryMaxDelay: 4 * time.Second,
		APIKey: demoAPIKey, ServerPort: *port, MessageMaxLength: ims.DefaultMaxContentLength,
		SchedulerInterval: time.Second, SchedulerBatchSize: 2, SchedulerAutoStart: true, WorkerConcurrency: 4,
		PollInterval: 200 * time.Millisecond, LeaderTTL: 2 * time.Second, ShutdownTimeout: 5 * time.Second,
		InstanceID: "demo", LogLevel: "warn", LogFormat: "text",
		// followDemo polls GET /api/stats: counted as often as it asks.
		StatsRefresh: demoPoll,
		// The README's delivery-report curl works against the demo.
		DLRAuthKey: "your-dlr-key", DLRParkTTL: 24 * time.Hour, StatusCallbackMaxRetries: 8,
	}
	m := NewMain(cfg, newLogger(stderr, cfg.LogLevel, cfg.LogFormat))
	m.PortHint = "is another IMS or demo running? Choose a free port with -port, or -port 0 for any (the demo ignores SERVER_PORT)"
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		if ctx.Err() != nil {
			return nil // interrupted while starting
		}
		return fmt.Errorf("start demo: %w", err)
	}
	defer func() { _ = m.Close() }()

	base := "http://" + m.Addr
	fmt.Fprintf(stdout, "IMS demo is running.\n")
	fmt.Fprintf(stdout, "  Console:    %s/  (API key: %s)\n", base, demoAPIKey)
	fmt.Fprintf(stdout, "  API docs:   %s/api/docs\n", base)
	fmt.Fprintf(stdout, "  Receiver:   %s\n", hookURL)
	fmt.Fprintf(stdout, "Scheduler: %d messages every %s. The receiver fails %.0f%% of calls with HTTP 500 (retries) and rejects %s with HTTP 422 (dead letters).\n\n",
		cfg.SchedulerBatchSize, cfg.SchedulerInterval, *failRate*100, demoUnreachable)
	// The demo is a client of its own API, as a user would be.
	c, err := client.New(base, client.WithAPIKey(demoAPIKey), client.WithHTTPClient(&nethttp.Client{Timeout: 10 * time.Second}))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := createDemoMessages(ctx, c, 0, *count, stdout); err != nil {
		return err
	}
	f := &demoFollower{c: c, out: stdout}
	if err := f.untilDone(ctx, *count); err != nil {
		return err
	}
	if *exit || ctx.Err() != nil {
		return nil
	}
	fmt.Fprintf(stdout, "\nIMS keeps running: open the console at %s/ (key %s), try the README's curl commands, or Ctrl-C to stop.\n", base, demoAPIKey)
	if *trickle > 0 {
		fmt.Fprintf(stdout, "A new sample message every %s (-trickle 0 for none); the audit trail goes on:\n", *trickle)
	} else {
		fmt.Fprintf(stdout, "The audit trail goes on for messages created from now on:\n")
	}
	return f.forever(ctx, *count, *trickle)
}

// demoMessage is the n-th sample message (from 0).
func demoMessage(n, total int) client.NewMessage {
	phone := demoPhones[n%len(demoPhones)]
	if n%demoDeadEvery == demoDeadEvery-1 {
		phone = demoUnreachable
	}
	text := fmt.Sprintf("Hello from the IMS demo, message %d", n+1)
	if total > 0 {
		text += fmt.Sprintf(" of %d", total)
	}
	return client.NewMessage{PhoneNumber: phone, Content: text}
}

func startDemoSink(failRate float64) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("start demo webhook receiver: %w", err)
	}
	s := sink.New(sink.Config{FailureRate: failRate, FailStatus: 500, AuthKey: demoWebhookKey, Seed: 7})
	srv := &nethttp.Server{Handler: rejectUnreachable(s), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/webhook", func() { _ = srv.Close() }, nil
}

// rejectUnreachable answers 422 for demoUnreachable, as a provider answers
// a number it cannot deliver to, and passes every other request to next.
func rejectUnreachable(next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		var body struct {
			To string `json:"to"`
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil && json.Unmarshal(raw, &body) == nil && body.To == demoUnreachable {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(nethttp.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"error":"unreachable number"}`)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		next.ServeHTTP(w, r)
	})
}

// createDemoMessages creates sample messages first..first+n-1 of a batch of
// total (0: no batch).
func createDemoMessages(ctx context.Context, c *client.Client, first, n int, stdout io.Writer) error {
	for i := range n {
		res, err := c.CreateMessage(ctx, demoMessage(first+i, n), "")
		if err != nil {
			return fmt.Errorf("create demo message: %w", err)
		}
		if !res.Created {
			return fmt.Errorf("create demo message: %s was not new", res.Message.ID)
		}
	}
	fmt.Fprintf(stdout, "Created %d messages with POST /api/messages. The audit trail as it happens:\n", n)
	return nil
}

// demoPoll is how often followDemo asks.
const demoPoll = 250 * time.Millisecond

// demoFollower prints the audit trail as it grows.
type demoFollower struct {
	c    *client.Client
	out  io.Writer
	last int64
}

// untilDone prints new audit events until the first n sample messages are
// done: sent, dead or canceled. The counts come from GET /api/stats, which
// may lag by one refresh; a finished message never goes back, so a lagging
// count only makes the end come one poll later.
func (f *demoFollower) untilDone(ctx context.Context, n int) error {
	for {
		if err := f.print(ctx); err != nil {
			return err
		}
		st, err := f.c.Stats(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("count messages: %w", err)
		}
		counts := st.Counts
		if counts[ims.StatusSent]+counts[ims.StatusDead]+counts[ims.StatusCanceled] >= int64(n) {
			fmt.Fprintf(f.out, "\nDone: %d sent, %d dead-lettered (replay them in the console, or POST /api/messages/dead-letter/retry).\n",
				counts[ims.StatusSent], counts[ims.StatusDead])
			return nil
		}
		if !sleepCtx(ctx, demoPoll) {
			return nil // interrupted: shut down quietly
		}
	}
}

// forever prints the audit trail until ctx ends, creating a sample message
// every trickle (none when zero); next numbers them on from the first batch.
func (f *demoFollower) forever(ctx context.Context, next int, trickle time.Duration) error {
	var due time.Time
	if trickle > 0 {
		due = time.Now().Add(trickle)
	}
	for {
		if trickle > 0 && !time.Now().Before(due) {
			if _, err := f.c.CreateMessage(ctx, demoMessage(next, 0), ""); err != nil && ctx.Err() == nil {
				fmt.Fprintf(f.out, "  (could not create a sample message: %v)\n", err)
			}
			next++
			due = due.Add(trickle)
		}
		if err := f.print(ctx); err != nil {
			return err
		}
		if !sleepCtx(ctx, demoPoll) {
			return nil
		}
	}
}

// print writes the audit events newer than the last one printed.
func (f *demoFollower) print(ctx context.Context) error {
	page, err := f.c.ListAudit(ctx, client.AuditFilter{Limit: 200})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("read audit trail: %w", err)
	}
	events := page.Events
	slices.Reverse(events)
	for _, e := range events {
		if e.ID > f.last {
			f.last = e.ID
			if e.Type != ims.EventSystemStarted && e.Type != ims.EventLeaderElected {
				fmt.Fprintf(f.out, "  %s  %-26s %s %s\n", e.CreatedAt.Local().Format("15:04:05.000"), e.Type, shortID(e.MessageID), e.Details)
			}
		}
	}
	return nil
}

// sleepCtx waits d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}
