package batch_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims/internal/batch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a flush that copies every batch it gets (Run reuses the slice)
// and reports it on a channel.
type recorder struct {
	got  chan []int
	fail bool
}

func newRecorder() *recorder { return &recorder{got: make(chan []int, 100)} }

func (r *recorder) flush(b []int) error {
	r.got <- append([]int(nil), b...)
	if r.fail {
		return errors.New("store down")
	}
	return nil
}

func (r *recorder) next(t *testing.T) []int {
	t.Helper()
	select {
	case b := <-r.got:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no flush")
		return nil
	}
}

func start(t *testing.T, in chan int, opt batch.Options, r *recorder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); batch.Run(ctx, in, opt, r.flush) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func TestWaitingItemsShareABatchUpToMax(t *testing.T) {
	t.Parallel()
	in := make(chan int, 10)
	for i := range 5 {
		in <- i
	}
	r := newRecorder()
	start(t, in, batch.Options{Max: 3}, r)
	require.Equal(t, []int{0, 1, 2}, r.next(t))
	require.Equal(t, []int{3, 4}, r.next(t))
}

func TestAnIdleItemIsFlushedAtOnce(t *testing.T) {
	t.Parallel()
	in := make(chan int, 10)
	r := newRecorder()
	start(t, in, batch.Options{Max: 100}, r)
	in <- 7
	require.Equal(t, []int{7}, r.next(t), "no linger: nothing waits for a batch to fill")
}

func TestLingerWaitsForMoreButNotPastAFullBatch(t *testing.T) {
	t.Parallel()
	in := make(chan int, 10)
	r := newRecorder()
	// A linger far beyond the test: only a full batch can be flushed.
	start(t, in, batch.Options{Max: 2, Linger: time.Hour}, r)
	in <- 1
	select {
	case b := <-r.got:
		t.Fatalf("flushed %v before the batch was full or the linger passed", b)
	case <-time.After(20 * time.Millisecond):
	}
	in <- 2
	require.Equal(t, []int{1, 2}, r.next(t))
}

func TestLingerFlushesAPartialBatch(t *testing.T) {
	t.Parallel()
	in := make(chan int, 10)
	r := newRecorder()
	start(t, in, batch.Options{Max: 100, Linger: time.Millisecond}, r)
	in <- 1
	require.Equal(t, []int{1}, r.next(t))
}

func TestDrainFlushesWhatIsWaitingInBatches(t *testing.T) {
	t.Parallel()
	in := make(chan int, 10)
	for i := range 5 {
		in <- i
	}
	r := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // ended before Run starts: everything waiting is a drain
	batch.Run(ctx, in, batch.Options{Max: 2}, r.flush)
	require.Equal(t, []int{0, 1}, r.next(t))
	require.Equal(t, []int{2, 3}, r.next(t))
	require.Equal(t, []int{4}, r.next(t))
	require.Empty(t, in)
}

func TestDrainStopsAtTheFirstFailedFlush(t *testing.T) {
	t.Parallel()
	in := make(chan int, 10)
	for i := range 6 {
		in <- i
	}
	r := newRecorder()
	r.fail = true
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	batch.Run(ctx, in, batch.Options{Max: 2}, r.flush)
	require.Equal(t, []int{0, 1}, r.next(t))
	require.Empty(t, r.got, "a shutdown during an outage does not try every batch")
	require.Len(t, in, 4)
}

func TestAFailedFlushDoesNotStopARunningBatcher(t *testing.T) {
	t.Parallel()
	in := make(chan int, 10)
	r := newRecorder()
	r.fail = true
	start(t, in, batch.Options{Max: 10}, r)
	in <- 1
	require.Equal(t, []int{1}, r.next(t))
	in <- 2
	require.Equal(t, []int{2}, r.next(t), "errors end only a drain")
}

func TestTheBatchInHandWhenCtxEndsIsDrained(t *testing.T) {
	t.Parallel()
	in := make(chan int, 10)
	r := newRecorder()
	stop := start(t, in, batch.Options{Max: 10, Linger: time.Hour}, r)
	in <- 1
	in <- 2
	require.Eventually(t, func() bool { return len(in) == 0 }, 10*time.Second, time.Millisecond)
	stop() // Run is lingering with [1 2] in hand
	require.Equal(t, []int{1, 2}, r.next(t))
}

func ExampleRun() {
	in := make(chan string, 10)
	in <- "a"
	in <- "b"
	in <- "c"
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run drains what waits, then returns
	batch.Run(ctx, in, batch.Options{Max: 2}, func(b []string) error {
		fmt.Println(b)
		return nil
	})
	// Output:
	// [a b]
	// [c]
}
