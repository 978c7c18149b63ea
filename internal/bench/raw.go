package bench

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/logging"
	"github.com/insiderone/ims/internal/sink"
	"github.com/insiderone/ims/webhook"
)

// RawResult is the ceiling: IMS's own webhook client delivering N messages
// straight to a sink with Concurrency workers, no database, no scheduler.
type RawResult struct {
	Delivered       int64   `json:"delivered"`
	Requests        int64   `json:"requests"`
	Seconds         float64 `json:"seconds"`
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	Duplicates      int64   `json:"duplicates"`
}

// runRaw measures the ceiling on this machine, now. A failed answer (with
// FailureRate) is retried at once, as many times as needed: the ceiling
// has no backoff to wait out.
func runRaw(ctx context.Context, cfg Config) (*RawResult, error) {
	s := sink.New(sink.Config{FailureRate: cfg.FailureRate, AuthKey: benchWebhookKey, Seed: 1})
	srv, err := startSink(ctx, s)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	hook, err := webhook.New(webhook.Config{URL: srv.url, AuthKey: benchWebhookKey, Timeout: 10 * time.Second,
		MaxIdleConnsPerHost: max(64, cfg.Concurrency)})
	if err != nil {
		return nil, fmt.Errorf("raw: webhook client: %w", err)
	}
	defer hook.Close()

	var next, delivered atomic.Int64
	var firstErr atomic.Pointer[string]
	start := time.Now()
	var wg sync.WaitGroup
	for range min(cfg.Concurrency, cfg.N) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(cfg.N) {
					return
				}
				m := ims.Message{ID: uuid.Must(uuid.NewV7()).String(), PhoneNumber: "+905500000000",
					Content: fmt.Sprintf("bench message %d", i)}
				if err := deliverUntilAccepted(ctx, hook, m); err != nil {
					firstErr.CompareAndSwap(nil, new(err.Error()))
					return
				}
				delivered.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if p := firstErr.Load(); p != nil {
		return nil, fmt.Errorf("raw: %s", *p)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("raw: %w", err)
	}
	st := s.Stats()
	return &RawResult{Delivered: delivered.Load(), Requests: st.Received, Seconds: elapsed.Seconds(),
		DeliveredPerSec: float64(delivered.Load()) / elapsed.Seconds(), Duplicates: st.Duplicates}, nil
}

// deliverUntilAccepted retries injected failures; a transport error (no
// answer at all) ends the raw run, since it means the machine is broken.
func deliverUntilAccepted(ctx context.Context, hook *webhook.Client, m ims.Message) error {
	for {
		res := hook.Deliver(ctx, m)
		switch {
		case res.Succeeded():
			return nil
		case res.Err != "":
			return fmt.Errorf("deliver %s: %s", m.ID, res.Err)
		case ctx.Err() != nil:
			return ctx.Err()
		}
	}
}

// sinkServer is an in-process sink on a loopback port.
type sinkServer struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startSink(ctx context.Context, s *sink.Sink) (*sinkServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start sink: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	srv := &sinkServer{url: "http://" + ln.Addr().String() + "/webhook", cancel: cancel, done: make(chan error, 1)}
	go func() { srv.done <- sink.ServeListener(sctx, ln, s, logging.Discard()) }()
	return srv, nil
}

func (s *sinkServer) stop() {
	s.cancel()
	<-s.done
}
