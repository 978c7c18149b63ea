package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	imshttp "github.com/insiderone/ims/http"
	"github.com/insiderone/ims/internal/stats"
	"github.com/insiderone/ims/sqlite"
)

// apiKey is the key of every in-process server.
const apiKey = "example-api-key"

// dlrKey is the test server's DLR_AUTH_KEY.
const dlrKey = "example-dlr-key"

// testServer is the real IMS API in-process, on a fresh SQLite database in a
// temporary directory: what the examples and the tests talk to.
type testServer struct {
	URL   string
	Store *sqlite.Store
	ts    *httptest.Server
	dir   string
}

// serverOptions change what startServer builds.
type serverOptions struct {
	cache  ims.SentCache
	health []imshttp.HealthCheck // beside the database check
	wrap   func(http.Handler) http.Handler
	clock  ims.Clock // nil = time.Now
}

func startServer(o serverOptions) (*testServer, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ims-client-")
	if err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "ims.db"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &testServer{Store: store, dir: dir}
	if err := store.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	// Running, so finishAll can claim (claims wait for a running state).
	if _, err := store.InitSchedulerState(ctx, true, "test"); err != nil {
		_ = s.Close()
		return nil, err
	}
	health := append([]imshttp.HealthCheck{{Name: "database", Required: true,
		Check: func(ctx context.Context) (string, error) { return "sqlite", store.Ping(ctx) }}}, o.health...)
	deps := imshttp.Deps{Messages: store, Audit: store, Scheduler: storeControl{store}, Cache: o.cache, Health: health,
		Stats: fixedStats{}, Console: fixedStats{}, Reports: store}
	srv, err := imshttp.NewServer(imshttp.Config{APIKey: apiKey, DLRAuthKey: dlrKey, Version: "test", Clock: o.clock}, deps, slog.New(slog.DiscardHandler))
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	var h http.Handler = srv
	if o.wrap != nil {
		h = o.wrap(h)
	}
	s.ts = httptest.NewServer(h)
	s.URL = s.ts.URL
	return s, nil
}

func (s *testServer) Close() error {
	if s.ts != nil {
		s.ts.Close()
	}
	err := s.Store.Close()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// storeControl is the scheduler as the API sees it: its state, kept in the
// store (with its audit events), without the delivery machinery behind it.
type storeControl struct{ store *sqlite.Store }

func (c storeControl) StartFleet(ctx context.Context, actor string) (ims.SchedulerStatus, error) {
	st, err := c.store.SetSchedulerRunning(ctx, true, actor)
	return schedulerStatus(st), err
}

func (c storeControl) StopFleet(ctx context.Context, actor string) (ims.SchedulerStatus, error) {
	st, err := c.store.SetSchedulerRunning(ctx, false, actor)
	return schedulerStatus(st), err
}

func (c storeControl) Status(ctx context.Context) (ims.SchedulerStatus, error) {
	st, err := c.store.InitSchedulerState(ctx, true, "test")
	return schedulerStatus(st), err
}

func schedulerStatus(st ims.SchedulerState) ims.SchedulerStatus {
	return ims.SchedulerStatus{Running: st.Running, Interval: 2 * time.Minute, BatchSize: 2, QueueMode: "db",
		Instance: "test-1", UpdatedAt: st.UpdatedAt, UpdatedBy: st.UpdatedBy}
}

// mustStart starts a server for an example.
func mustStart() *testServer {
	srv, err := startServer(serverOptions{})
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

func Example() {
	srv := mustStart()
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL, client.WithAPIKey(apiKey))
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.CreateMessage(ctx, client.NewMessage{PhoneNumber: "+905551234567", Content: "Hello from IMS!"}, "")
	if err != nil {
		log.Fatal(err)
	}
	detail, err := c.GetMessage(ctx, res.Message.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", res.Created)
	fmt.Println("status:", detail.Message.Status)
	fmt.Println("attempts:", len(detail.Attempts))
	// Output:
	// created: true
	// status: pending
	// attempts: 0
}

// A retry with the same idempotency key returns the first message instead of
// creating a second one.
func ExampleClient_CreateMessage_idempotency() {
	srv := mustStart()
	defer srv.Close()
	ctx := context.Background()
	c, err := client.New(srv.URL, client.WithAPIKey(apiKey))
	if err != nil {
		log.Fatal(err)
	}

	m := client.NewMessage{PhoneNumber: "+905551234567", Content: "Your code is 1234"}
	first, err := c.CreateMessage(ctx, m, "login-code-1234")
	if err != nil {
		log.Fatal(err)
	}
	retry, err := c.CreateMessage(ctx, m, "login-code-1234")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first created:", first.Created)
	fmt.Println("retry created:", retry.Created)
	fmt.Println("same message:", first.Message.ID == retry.Message.ID)
	// Output:
	// first created: true
	// retry created: false
	// same message: true
}

// A message that breaks the rules is an EINVALID *ims.Error whose details
// say what is wrong with each field.
func ExampleClient_CreateMessage_validation() {
	srv := mustStart()
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithAPIKey(apiKey))
	if err != nil {
		log.Fatal(err)
	}

	_, err = c.CreateMessage(context.Background(), client.NewMessage{PhoneNumber: "0555", Content: "hi"}, "")
	var e *ims.Error
	if errors.As(err, &e) {
		fmt.Println("code:", e.Code)
		fmt.Println("message:", e.Message)
		fmt.Println("phone_number:", e.Details.(map[string]string)["phone_number"])
	}
	// Output:
	// code: invalid
	// message: invalid message
	// phone_number: must be in E.164 format: + followed by 8 to 15 digits, e.g. +905551234567
}

// Errors keep the code the server gave them, so a caller can branch on it.
func ExampleClient_GetMessage_notFound() {
	srv := mustStart()
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithAPIKey(apiKey))
	if err != nil {
		log.Fatal(err)
	}

	_, err = c.GetMessage(context.Background(), "0195f0a4-7c3e-7000-8000-000000000000")
	switch ims.ErrorCode(err) {
	case ims.ENOTFOUND:
		fmt.Println("no such message")
	case ims.EUNAUTHORIZED:
		fmt.Println("check the API key")
	default:
		fmt.Println("error:", err)
	}
	// Output:
	// no such message
}

// AllMessages follows the pages for you; Limit is the page size.
func ExampleClient_AllMessages() {
	srv := mustStart()
	defer srv.Close()
	ctx := context.Background()
	c, err := client.New(srv.URL, client.WithAPIKey(apiKey))
	if err != nil {
		log.Fatal(err)
	}
	batch := make([]client.NewMessage, 5)
	for i := range batch {
		batch[i] = client.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("message %d", i+1)}
	}
	res, err := c.CreateBatch(ctx, batch, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", res.Created)

	n := 0
	for m, err := range c.AllMessages(ctx, client.MessageFilter{Status: ims.StatusPending, Limit: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		_ = m
		n++
	}
	fmt.Println("pending:", n)
	// Output:
	// created: 5
	// pending: 5
}

// The scheduler's state is fleet-wide: a stop holds for every instance until
// the next start.
func ExampleClient_Stop() {
	srv := mustStart()
	defer srv.Close()
	ctx := context.Background()
	c, err := client.New(srv.URL, client.WithAPIKey(apiKey))
	if err != nil {
		log.Fatal(err)
	}

	st, err := c.Stop(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("running:", st.Running)
	st, err = c.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("running:", st.Running, "every", st.Interval, "batch", st.BatchSize)
	// Output:
	// running: false
	// running: true every 2m0s batch 2
}

// Do sends JSON the caller encoded and decodes only the fields it asks for:
// what a load generator does, so that it spends as little as it can.
func ExampleClient_Do() {
	srv := mustStart()
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithAPIKey(apiKey))
	if err != nil {
		log.Fatal(err)
	}

	body := []byte(`{"messages":[{"phone_number":"+905551234567","content":"one"},{"phone_number":"+905551234567","content":"two"}]}`)
	var out struct {
		Created int `json:"created"`
	}
	if err := c.Do(context.Background(), http.MethodPost, "/api/messages/batch", body, &out); err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", out.Created)
	// Output:
	// created: 2
}

// Health needs no API key.
func ExampleClient_Health() {
	srv := mustStart()
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}

	h, err := c.Health(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", h.Status)
	fmt.Println("database:", h.Components["database"].Status)
	// Output:
	// status: ok
	// database: up
}

// fixedStats is a GET /api/stats and /api/console source with known figures.
type fixedStats struct{}

// Series is an empty 15-minute series ending at a fixed time.
func (fixedStats) Series() stats.SeriesSnapshot {
	return stats.NewSeries(func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }).Snapshot(stats.SeriesStep)
}

func (fixedStats) Instances() stats.FleetSnapshot {
	at := time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)
	return stats.FleetSnapshot{RefreshedAt: at, Instances: []ims.Instance{
		{ID: "test", StartedAt: at.Add(-time.Hour), LastSeen: at, Version: "v1", QueueMode: "db", Leader: true}}}
}

func (fixedStats) Stats() ims.Stats {
	return ims.Stats{
		Counts:  map[ims.Status]int64{ims.StatusPending: 3, ims.StatusSent: 7},
		Rates:   ims.DeliveryRates{Window: time.Minute, Delivered: 1.5},
		Webhook: ims.WebhookHealth{Detail: "5 of 5 recent attempts succeeded", Attempts: 5},
		Scheduler: ims.SchedulerStatus{Running: true, Interval: 2 * time.Minute, BatchSize: 2,
			QueueMode: "db", Instance: "test"},
	}
}
