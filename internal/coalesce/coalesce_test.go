package coalesce

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countingStore counts CreateMessages calls on a real SQLite store.
type countingStore struct {
	*sqlite.Store
	mu    sync.Mutex
	calls int
}

func (s *countingStore) CreateMessages(ctx context.Context, msgs []ims.NewMessage) ([]ims.CreateResult, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return s.Store.CreateMessages(ctx, msgs)
}

func setup(t *testing.T) (*Creator, *countingStore) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/ims.db")
	require.NoError(t, err)
	require.NoError(t, st.Migrate(ctx))
	t.Cleanup(func() { _ = st.Close() })
	store := &countingStore{Store: st}
	c := New(store, 100)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, store
}

func msg(i int) ims.NewMessage {
	return ims.NewMessage{PhoneNumber: fmt.Sprintf("+9055500%05d", i), Content: fmt.Sprintf("hello %d", i)}
}

func TestConcurrentCreatesShareInsertsAndKeepTheirActors(t *testing.T) {
	t.Parallel()
	c, store := setup(t)
	const n = 200
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.CreateMessages(context.Background(), ims.WithActor(fmt.Sprintf("api:req-%d", i), []ims.NewMessage{msg(i)}))
			require.NoError(t, err)
			require.Len(t, res, 1)
			require.True(t, res[0].Created)
			require.Equal(t, msg(i).Content, res[0].Message.Content, "each caller gets its own message")
			ids[i] = res[0].Message.ID
		}()
	}
	wg.Wait()

	counts, err := store.CountByStatus(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(n), counts[ims.StatusPending])
	for i, id := range ids {
		page, err := store.ListAudit(context.Background(), ims.AuditFilter{MessageID: id})
		require.NoError(t, err)
		require.Len(t, page.Events, 1)
		require.Equal(t, fmt.Sprintf("api:req-%d", i), page.Events[0].Actor)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	require.LessOrEqual(t, store.calls, n, "never more inserts than requests")
}

func TestOneConflictDoesNotFailTheOthers(t *testing.T) {
	t.Parallel()
	c, _ := setup(t)
	ctx := context.Background()
	first := msg(1)
	first.IdempotencyKey = "k"
	_, err := c.CreateMessages(ctx, ims.WithActor("a", []ims.NewMessage{first}))
	require.NoError(t, err)

	clash := msg(2)
	clash.IdempotencyKey = "k" // same key, other content: a conflict
	batch := []request{
		{msg: clash, reply: make(chan reply, 1)},
		{msg: msg(3), reply: make(chan reply, 1)},
	}
	c.write(batch)
	bad, good := <-batch[0].reply, <-batch[1].reply
	require.Equal(t, ims.ECONFLICT, ims.ErrorCode(bad.err))
	require.NoError(t, good.err)
	require.True(t, good.res.Created)
}

func TestBatchesAndReplaysGoStraightThrough(t *testing.T) {
	t.Parallel()
	c, store := setup(t)
	ctx := context.Background()
	res, err := c.CreateMessages(ctx, ims.WithActor("bulk", []ims.NewMessage{msg(1), msg(2)}))
	require.NoError(t, err)
	require.Len(t, res, 2)

	again := msg(3)
	again.IdempotencyKey = "same"
	a, err := c.CreateMessages(ctx, ims.WithActor("x", []ims.NewMessage{again}))
	require.NoError(t, err)
	b, err := c.CreateMessages(ctx, ims.WithActor("y", []ims.NewMessage{again}))
	require.NoError(t, err)
	require.Equal(t, a[0].Message.ID, b[0].Message.ID)
	require.False(t, b[0].Created, "idempotency holds through the coalescer")
	store.mu.Lock()
	defer store.mu.Unlock()
	require.Equal(t, 3, store.calls)
}

// TestCreatesRacingTheEndOfRunAreAllAnswered creates while Run ends. Before
// the close was ordered against sends, a request could be queued after Run's
// drain and wait for an answer that never came.
func TestCreatesRacingTheEndOfRunAreAllAnswered(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/ims.db")
	require.NoError(t, err)
	require.NoError(t, st.Migrate(ctx))
	t.Cleanup(func() { _ = st.Close() })
	for round := range 20 {
		c := New(st, 4)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); c.Run(runCtx) }()
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				callCtx, stop := context.WithTimeout(ctx, 10*time.Second)
				defer stop()
				_, err := c.CreateMessages(callCtx, ims.WithActor("test", []ims.NewMessage{msg(round*100 + i)}))
				require.NoError(t, err, "every create is answered, before, during or after the end of Run")
			})
		}
		cancel()
		wg.Wait()
		<-done
	}
}
