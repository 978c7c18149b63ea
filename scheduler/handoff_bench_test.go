package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/insiderone/ims"
)

// nopHook answers every call at once, so that a benchmark measures the
// engine's cost per delivery, not the webhook's.
type nopHook struct{}

func (nopHook) Deliver(context.Context, ims.Message) ims.DeliveryResult {
	return ims.DeliveryResult{StatusCode: 200}
}

// BenchmarkDBHandoff is database mode's path from a claimed message to its
// outcome on the completer's channel: handing over, a worker picking it up,
// the pre-call checks, the (no-op) call and the retry decision. The store is
// never called on this path; the completer's channel is read here instead.
func BenchmarkDBHandoff(b *testing.B) {
	const concurrency, claim = 64, 64
	s, err := New(Config{Instance: "bench", Concurrency: concurrency}, Deps{Store: struct{ ims.Store }{}, Webhook: nopHook{}})
	if err != nil {
		b.Fatal(err)
	}
	s.running.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := s.handoff.start(ctx, ctx)
	done := make(chan struct{})
	go func() {
		for range b.N {
			<-s.complete.in
		}
		close(done)
	}()
	msgs := make([]ims.Message, claim)
	for i := range msgs {
		msgs[i] = ims.Message{ID: "m", Attempts: 1, Status: ims.StatusSending, NextAttemptAt: time.Now().Add(time.Hour)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for handed := 0; handed < b.N; {
		n := s.handoff.reserve(ctx, min(claim, b.N-handed))
		s.handoff.handOver(ctx, ctx, msgs[:n])
		handed += n
	}
	<-done
	b.StopTimer()
	s.wg.Wait()
	cancel()
	stop()
}
