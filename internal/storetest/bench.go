package storetest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/insiderone/ims"
)

// BenchOpener returns a fresh, migrated, empty store for a benchmark and
// registers its cleanup with tb.Cleanup.
type BenchOpener func(tb testing.TB, now ims.Clock) ims.Store

// benchBatch is the batch size of every benchmark: the scale the pipeline
// works at under load.
const benchBatch = 1000

// Bench runs the store benchmarks: creating, claiming and completing batches
// of 1000 messages. Each reports msgs/s so stores can be compared.
func Bench(b *testing.B, open BenchOpener) {
	b.Run("CreateMessages", func(b *testing.B) { benchCreate(b, open) })
	b.Run("ClaimDue", func(b *testing.B) { benchClaim(b, open) })
	b.Run("RecordOutcomes", func(b *testing.B) { benchRecord(b, open) })
}

func benchNew(i int) []ims.NewMessage {
	nms := make([]ims.NewMessage, benchBatch)
	for j := range nms {
		nms[j] = ims.NewMessage{PhoneNumber: phone, Content: fmt.Sprintf("bench %d/%d", i, j)}
	}
	return nms
}

func benchCreate(b *testing.B, open BenchOpener) {
	s := open(b, time.Now)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.CreateMessages(ctx, ims.WithActor("bench", benchNew(i))); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

func benchClaim(b *testing.B, open BenchOpener) {
	s := openRunning(b, open)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		mustCreate(ctx, b, s, i)
		b.StartTimer()
		if _, err := claimBatch(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

func benchRecord(b *testing.B, open BenchOpener) {
	s := openRunning(b, open)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		mustCreate(ctx, b, s, i)
		claimed, err := claimBatch(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		outs := make([]ims.Outcome, len(claimed))
		for j, m := range claimed {
			outs[j] = outcome(m, ims.StatusSent, time.Now())
		}
		b.StartTimer()
		if err := s.RecordOutcomes(ctx, outs, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// openRunning opens a store whose scheduler state is running, so it claims.
//
// With IMS_BENCH_CALLBACK_URL set, it stores that URL as the fleet's status
// callback URL first, so the outcomes write their callback rows (the
// counts of scripts/store-instructions.sh with callbacks on).
func openRunning(b *testing.B, open BenchOpener) ims.Store {
	b.Helper()
	s := open(b, time.Now)
	if url := os.Getenv("IMS_BENCH_CALLBACK_URL"); url != "" {
		cs, ok := s.(interface {
			SetStatusCallbackURL(context.Context, string) error
		})
		if !ok {
			b.Fatal("IMS_BENCH_CALLBACK_URL: the store has no SetStatusCallbackURL")
		}
		if err := cs.SetStatusCallbackURL(b.Context(), url); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.InitSchedulerState(b.Context(), true, "bench"); err != nil {
		b.Fatal(err)
	}
	return s
}

func mustCreate(ctx context.Context, b *testing.B, s ims.Store, i int) {
	b.Helper()
	if _, err := s.CreateMessages(ctx, ims.WithActor("bench", benchNew(i))); err != nil {
		b.Fatal(err)
	}
}

func claimBatch(ctx context.Context, s ims.Store) ([]ims.Message, error) {
	got, err := s.ClaimDue(ctx, ims.ClaimParams{Limit: benchBatch, Lease: time.Hour, Actor: "bench"})
	if err != nil {
		return nil, err
	}
	if len(got) != benchBatch {
		return nil, fmt.Errorf("claimed %d messages, want %d", len(got), benchBatch)
	}
	return got, nil
}

func reportRate(b *testing.B) {
	if sec := b.Elapsed().Seconds(); sec > 0 {
		b.ReportMetric(float64(b.N*benchBatch)/sec, "msgs/s")
	}
}
