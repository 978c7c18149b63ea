package main

import (
	"context"
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

// runDemo runs IMS on a fresh embedded SQLite database against a built-in
// webhook receiver that fails now and then, creates sample messages through
// the API and prints the audit trail as it happens.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int("messages", 8, "sample messages to create")
	port := fs.Int("port", 8080, "HTTP port of the API (0 = any free port)")
	failRate := fs.Float64("failure-rate", 0.25, "share of webhook calls the built-in receiver fails with HTTP 500, to show retries")
	exit := fs.Bool("exit", false, "exit once every sample message is sent or dead, instead of serving on")
	if err := fs.Parse(args); err != nil {
		return err
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
	fmt.Fprintf(stdout, "IMS demo: API %s (key %q), Swagger UI %s/api/docs, webhook receiver %s\n", base, demoAPIKey, base, hookURL)
	fmt.Fprintf(stdout, "Scheduler: %d messages every %s; the receiver fails %.0f%% of calls, so you will see retries.\n\n", cfg.SchedulerBatchSize, cfg.SchedulerInterval, *failRate*100)
	// The demo is a client of its own API, as a user would be.
	c, err := client.New(base, client.WithAPIKey(demoAPIKey), client.WithHTTPClient(&nethttp.Client{Timeout: 10 * time.Second}))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := createDemoMessages(ctx, c, *count, stdout); err != nil {
		return err
	}
	if err := followDemo(ctx, c, *count, stdout); err != nil {
		return err
	}
	if *exit {
		return nil
	}
	fmt.Fprintf(stdout, "\nIMS keeps running at %s — try the README's curl commands, or Ctrl-C to stop.\n", base)
	<-ctx.Done()
	return nil
}

func startDemoSink(failRate float64) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("start demo webhook receiver: %w", err)
	}
	s := sink.New(sink.Config{FailureRate: failRate, FailStatus: 500, AuthKey: demoWebhookKey, Seed: 7})
	srv := &nethttp.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/webhook", func() { _ = srv.Close() }, nil
}

func createDemoMessages(ctx context.Context, c *client.Client, n int, stdout io.Writer) error {
	for i := range n {
		res, err := c.CreateMessage(ctx, client.NewMessage{
			PhoneNumber: demoPhones[i%len(demoPhones)],
			Content:     fmt.Sprintf("Hello from the IMS demo, message %d of %d", i+1, n),
		}, "")
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

// followDemo prints new audit events until the n sample messages are done:
// sent, dead or canceled. The counts come from GET /api/stats, which may lag
// by one refresh; a finished message never goes back, so a lagging count
// only makes the end come one poll later.
func followDemo(ctx context.Context, c *client.Client, n int, stdout io.Writer) error {
	var last int64
	for {
		page, err := c.ListAudit(ctx, client.AuditFilter{Limit: 200})
		if err != nil {
			return fmt.Errorf("read audit trail: %w", err)
		}
		events := page.Events
		slices.Reverse(events)
		for _, e := range events {
			if e.ID > last {
				last = e.ID
				if e.Type != ims.EventSystemStarted && e.Type != ims.EventLeaderElected {
					fmt.Fprintf(stdout, "  %s  %-26s %s %s\n", e.CreatedAt.Local().Format("15:04:05.000"), e.Type, shortID(e.MessageID), e.Details)
				}
			}
		}
		st, err := c.Stats(ctx)
		if err != nil {
			return fmt.Errorf("count messages: %w", err)
		}
		counts := st.Counts
		if counts[ims.StatusSent]+counts[ims.StatusDead]+counts[ims.StatusCanceled] >= int64(n) {
			fmt.Fprintf(stdout, "\nDone: %d sent, %d dead-lettered (see GET /api/messages/dead-letter).\n", counts[ims.StatusSent], counts[ims.StatusDead])
			return nil
		}
		select {
		case <-ctx.Done():
			return nil // interrupted: shut down quietly
		case <-time.After(demoPoll):
		}
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}
