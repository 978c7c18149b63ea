package http

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/coalesce"
	"github.com/insiderone/ims/sqlite"
)

// These benchmarks measure the create path in-process: the real handler and a
// real SQLite store, no network and no client process competing for the CPU.
// `ims bench` measures the whole system; these isolate what one request costs
// IMS itself. Run with: go test -run '^$' -bench Create ./http/

// coalesceMaxBatch matches what `ims serve` gives coalesce.New.
const coalesceMaxBatch = 256

// concurrentClients matches `ims bench -create api`'s 64 clients: coalescing
// only has something to coalesce when many requests are in flight at once.
const concurrentClients = 64

// BenchmarkCreateMessage is POST /api/messages from many goroutines at once,
// straight to the store and through the coalescer `ims serve` puts in front
// of it.
func BenchmarkCreateMessage(b *testing.B) {
	body := []byte(`{"phone_number":"+905551234567","content":"Hello from IMS!"}`)
	for _, coalesced := range []bool{false, true} {
		name := map[bool]string{false: "direct", true: "coalesced"}[coalesced]
		b.Run(name, func(b *testing.B) {
			srv, store := benchServer(b, coalesced)
			b.SetParallelism(max(1, concurrentClients/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code, resp := post(srv, "/api/messages", body); code != http.StatusCreated {
						b.Errorf("create: status %d: %s", code, resp)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
			require.EqualValues(b, b.N, storedMessages(b, store), "every create must be stored")
		})
	}
}

// BenchmarkCreateBatch is POST /api/messages/batch of DefaultMaxBatchSize
// messages, one request at a time (batches go past the coalescer anyway).
func BenchmarkCreateBatch(b *testing.B) {
	body := batchBody(DefaultMaxBatchSize)
	srv, store := benchServer(b, false)
	b.ReportAllocs()
	requests := 0
	for b.Loop() {
		if code, resp := post(srv, "/api/messages/batch", body); code != http.StatusCreated {
			b.Fatalf("batch create: status %d: %s", code, resp)
		}
		requests++
	}
	b.ReportMetric(float64(requests*DefaultMaxBatchSize)/b.Elapsed().Seconds(), "msgs/s")
	require.EqualValues(b, requests*DefaultMaxBatchSize, storedMessages(b, store))
}

// benchServer is setup for a benchmark: the same Server over a fresh SQLite
// file, optionally with creates coalesced as `ims serve` does.
func benchServer(b *testing.B, coalesced bool) (*Server, *sqlite.Store) {
	b.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ims.db"))
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, store.Close()) })
	require.NoError(b, store.Migrate(ctx))

	var messages ims.MessageStore = store
	if coalesced {
		creator := coalesce.New(store, coalesceMaxBatch)
		runCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { creator.Run(runCtx) })
		// Registered after the store's cleanup, so it runs first: the
		// coalescer stops before the store closes under it.
		b.Cleanup(func() { cancel(); wg.Wait() })
		messages = creator
	}
	sched := &fakeScheduler{status: ims.SchedulerStatus{QueueMode: "db", Instance: "bench"}}
	srv, err := NewServer(Config{APIKey: testKey, Version: "bench"},
		Deps{Messages: messages, Audit: store, Scheduler: sched}, nil)
	require.NoError(b, err)
	return srv, store
}

// post serves one authorised JSON POST in-process. It is safe for concurrent
// use, unlike the test helpers, which fail the test from the calling goroutine.
func post(srv *Server, path string, body []byte) (int, string) {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", testKey)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// batchBody is a batch create request of n distinct messages.
func batchBody(n int) []byte {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"phone_number":"+90555%07d","content":"Hello from IMS! %d"}`, i, i)
	}
	return []byte(`{"messages":[` + strings.Join(items, ",") + `]}`)
}

// storedMessages counts every message in the store.
func storedMessages(b *testing.B, store *sqlite.Store) int64 {
	b.Helper()
	counts, err := store.CountByStatus(context.Background())
	require.NoError(b, err)
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}
