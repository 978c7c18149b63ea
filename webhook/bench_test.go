package webhook

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// BenchmarkDeliver measures one delivery round trip against a local server
// that answers like the provider; the server's own cost is included.
func BenchmarkDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"message":"Accepted","messageId":"6f1c8b9e-2a5d-4e3b-9c7a-1b2c3d4e5f60"}`)
	}))
	b.Cleanup(srv.Close)

	for _, signed := range []bool{false, true} {
		name := "unsigned"
		if signed {
			name = "signed"
		}
		cfg := Config{URL: srv.URL + "/hook?token=t", AuthKey: "key", Timeout: 10 * time.Second}
		if signed {
			cfg.SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		}
		c, err := New(cfg)
		require.NoError(b, err)
		b.Cleanup(func() { _ = c.Close() })
		m := message("0190f5e2-7b1c-7000-8000-000000000001", "+905551112233", benchContent)

		b.Run(name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if res := c.Deliver(b.Context(), m); !res.Succeeded() {
					b.Fatalf("delivery failed: %+v", res)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if res := c.Deliver(b.Context(), m); !res.Succeeded() {
						b.Errorf("delivery failed: %+v", res)
						return
					}
				}
			})
		})
		// As the scheduler calls it: with the stop gate's request-sent hook.
		b.Run(name+"/parallel-sent-hook", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var sent atomic.Bool
					ctx := ims.WithRequestSent(b.Context(), func() { sent.Store(true) })
					if res := c.Deliver(ctx, m); !res.Succeeded() || !sent.Load() {
						b.Errorf("delivery failed or hook not run: %+v", res)
						return
					}
				}
			})
		})
	}
}

// BenchmarkDeliverClient measures the client's own work per delivery, with
// a transport that answers in memory: no sockets, no server. The fake
// answer costs 3 of the allocations (response, body reader, closer).
func BenchmarkDeliverClient(b *testing.B) {
	const answer = `{"message":"Accepted","messageId":"6f1c8b9e-2a5d-4e3b-9c7a-1b2c3d4e5f60"}`
	c, err := New(Config{URL: "http://127.0.0.1:1/hook?token=t", AuthKey: "key", Timeout: 10 * time.Second})
	require.NoError(b, err)
	b.Cleanup(func() { _ = c.Close() })
	c.roundTrip = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, r.Body)
		return &http.Response{StatusCode: http.StatusAccepted, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(answer)), Request: r}, nil
	})
	m := message("0190f5e2-7b1c-7000-8000-000000000001", "+905551112233", benchContent)
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Deliver(b.Context(), m); res.ProviderMessageID == "" {
			b.Fatalf("delivery failed: %+v", res)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkDeliverReceiver measures deliveries to a receiver already
// running at $IMS_BENCH_WEBHOOK_URL (e.g. `ims sink`), 64 in flight as with
// the default WORKER_CONCURRENCY on 2 cores, so that the client can be set
// against wrk posting the same request to the same process
// (scripts/http-ceiling.sh). Skipped when the variable is unset.
func BenchmarkDeliverReceiver(b *testing.B) {
	url := os.Getenv("IMS_BENCH_WEBHOOK_URL")
	if url == "" {
		b.Skip("IMS_BENCH_WEBHOOK_URL is not set")
	}
	const inFlight = 64
	c, err := New(Config{URL: url, AuthKey: "bench-key", Timeout: 10 * time.Second, MaxIdleConnsPerHost: inFlight})
	require.NoError(b, err)
	b.Cleanup(func() { _ = c.Close() })
	m := message("0190f5e2-7b1c-7000-8000-000000000001", "+905500000000", "bench message 12345")
	b.ReportAllocs()
	b.SetParallelism((inFlight + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := c.Deliver(b.Context(), m); !res.Succeeded() {
				b.Errorf("delivery failed: %+v", res)
				return
			}
		}
	})
}
