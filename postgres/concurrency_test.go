package postgres_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/testenv"
	"github.com/insiderone/ims/postgres"
)

// threeInstances opens three stores on one fresh schema, as three IMS
// processes would (separate pools), on a fixed clock, with the scheduler
// started.
func threeInstances(t *testing.T) ([]ims.Store, ims.Clock) {
	t.Helper()
	url := testenv.PostgresURL(t)
	now := func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	stores := []ims.Store{openURL(t, url, now), openURL(t, url, now), openURL(t, url, now)}
	_, err := stores[0].InitSchedulerState(t.Context(), true, "test")
	require.NoError(t, err)
	return stores, now
}

// These tests hammer the Postgres-specific concurrency paths (SKIP LOCKED,
// ON CONFLICT plus the statement's self-abort and retry) from several store
// instances at once: separate pools, as several IMS processes would be.

func TestConcurrentClaimsAcrossInstances(t *testing.T) {
	t.Parallel()
	stores, _ := threeInstances(t)

	const total = 600
	nms := make([]ims.NewMessage, total)
	for i := range nms {
		nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("m%d", i)}
	}
	_, err := stores[0].CreateMessages(t.Context(), ims.WithActor("test", nms))
	require.NoError(t, err)

	const claimers = 9
	got := make([][]string, claimers)
	errs := make([]error, claimers)
	var wg sync.WaitGroup
	for w := range claimers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			for {
				msgs, err := s.ClaimDue(t.Context(), ims.ClaimParams{Limit: 7, Lease: time.Hour, Actor: "w"})
				if err != nil || len(msgs) == 0 {
					errs[w] = err
					return
				}
				for _, m := range msgs {
					got[w] = append(got[w], m.ID)
				}
			}
		})
	}
	wg.Wait()

	seen := make(map[string]int)
	for w := range claimers {
		require.NoError(t, errs[w])
		for _, id := range got[w] {
			seen[id]++
		}
	}
	require.Len(t, seen, total, "every message is claimed")
	for id, n := range seen {
		require.Equal(t, 1, n, "message %s claimed %d times", id, n)
	}
	counts, err := stores[0].CountByStatus(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(total), counts[ims.StatusSending])
}

// TestNoClaimCommitsAfterAStop: instances keep claiming while a stop
// commits. A claim that started after the stop returned claims nothing, and
// one already running when it committed was ordered before it (the stop
// waits for its share lock), so the claimed set is final once the stop
// has returned.
func TestNoClaimCommitsAfterAStop(t *testing.T) {
	t.Parallel()
	stores, _ := threeInstances(t)
	ctx := t.Context()
	nms := make([]ims.NewMessage, 5000)
	for i := range nms {
		nms[i] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("m%d", i)}
	}
	_, err := stores[0].CreateMessages(ctx, ims.WithActor("test", nms))
	require.NoError(t, err)

	const claimers = 6
	var (
		stopped     atomic.Bool  // set once the stop has returned
		claims      atomic.Int64 // claim calls before the stop
		afterStop   [claimers]atomic.Int64
		lateClaimed atomic.Int64 // messages claimed by calls started after the stop
		wg          sync.WaitGroup
		errs        = make(chan error, claimers)
	)
	for w := range claimers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			for afterStop[w].Load() < 20 {
				late := stopped.Load()
				msgs, err := s.ClaimDue(ctx, ims.ClaimParams{Limit: 1, Lease: time.Hour, Actor: "w"})
				if err != nil {
					errs <- err
					return
				}
				if late {
					lateClaimed.Add(int64(len(msgs)))
					afterStop[w].Add(1)
				} else {
					claims.Add(1)
				}
			}
		})
	}
	require.Eventually(t, func() bool { return claims.Load() >= 100 }, 30*time.Second, time.Millisecond,
		"claimers never got going")
	_, err = stores[1].SetSchedulerRunning(ctx, false, "api:stop")
	require.NoError(t, err)
	stopped.Store(true)
	counts, err := stores[2].CountByStatus(ctx)
	require.NoError(t, err)
	claimedAtStop := counts[ims.StatusSending]
	require.Positive(t, claimedAtStop)

	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Zero(t, lateClaimed.Load(), "a claim started after the stop returned claimed something")
	counts, err = stores[2].CountByStatus(ctx)
	require.NoError(t, err)
	require.Equal(t, claimedAtStop, counts[ims.StatusSending], "a claim committed after the stop had returned")
}

func TestConcurrentIdempotentCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		contents []string // one concurrent caller per entry, all with the same key
	}{
		{name: "same message", contents: []string{"a", "a", "a", "a", "a", "a", "a", "a"}},
		{name: "different messages", contents: []string{"a", "b", "a", "b", "a", "b", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := testenv.PostgresURL(t)
			stores := []ims.Store{openURL(t, url, time.Now), openURL(t, url, time.Now)}

			results := make([]ims.CreateResult, len(tt.contents))
			errs := make([]error, len(tt.contents))
			var wg sync.WaitGroup
			for i, content := range tt.contents {
				wg.Go(func() {
					nm := ims.NewMessage{PhoneNumber: "+905551234567", Content: content, IdempotencyKey: "key-1"}
					res, err := stores[i%2].CreateMessages(t.Context(), ims.WithActor("test", []ims.NewMessage{nm}))
					if errs[i] = err; err == nil {
						results[i] = res[0]
					}
				})
			}
			wg.Wait()

			var winner ims.Message
			created := 0
			for i, r := range results {
				if errs[i] == nil && r.Created {
					created++
					winner = r.Message
				}
			}
			require.Equal(t, 1, created, "exactly one caller creates the message")
			for i, content := range tt.contents {
				if content != winner.Content {
					require.Equal(t, ims.ECONFLICT, ims.ErrorCode(errs[i]), "caller %d: %v", i, errs[i])
					continue
				}
				require.NoError(t, errs[i], "caller %d", i)
				require.Equal(t, winner.ID, results[i].Message.ID, "caller %d gets the one message", i)
			}
			page, err := stores[0].ListMessages(t.Context(), ims.MessageFilter{})
			require.NoError(t, err)
			require.Len(t, page.Messages, 1, "nothing else was written")
		})
	}
}

// TestCreateRacingCommittedKey forces the narrow race createSQL guards
// against: the key is inserted by a transaction that commits while the
// create statement waits on it, so the row is invisible to the statement's
// snapshot. The statement must abort and rerun, never create a second
// message nor half a batch.
func TestCreateRacingCommittedKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		content  string // of the racing create; the committed message says "hi"
		wantCode string
	}{
		{name: "same message returns the committed one", content: "hi"},
		{name: "other message conflicts and writes nothing", content: "bye", wantCode: ims.ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openURL(t, testenv.PostgresURL(t), time.Now)
			ctx := t.Context()
			const committedID = "01900000-0000-7000-8000-000000000001"
			tx, err := s.Pool().Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }()
			_, err = tx.Exec(ctx, `INSERT INTO messages (id, phone_number, content, status, idempotency_key,
				next_attempt_at, created_at, updated_at) VALUES ($1, '+905551234567', 'hi', 'pending', 'k', now(), now(), now())`,
				committedID)
			require.NoError(t, err)

			type result struct {
				res []ims.CreateResult
				err error
			}
			done := make(chan result, 1)
			go func() {
				batch := []ims.NewMessage{
					{PhoneNumber: "+905551234567", Content: "unrelated"},
					{PhoneNumber: "+905551234567", Content: tt.content, IdempotencyKey: "k"},
				}
				res, err := s.CreateMessages(ctx, ims.WithActor("test", batch))
				done <- result{res, err}
			}()
			waitForBlockedCreate(t, s, tx.Conn().PgConn().PID())
			require.NoError(t, tx.Commit(ctx))
			r := <-done

			page, err := s.ListMessages(ctx, ims.MessageFilter{})
			require.NoError(t, err)
			if tt.wantCode != "" {
				require.Equal(t, tt.wantCode, ims.ErrorCode(r.err), "error: %v", r.err)
				require.Len(t, page.Messages, 1, "only the committed message exists")
				return
			}
			require.NoError(t, r.err)
			require.Len(t, r.res, 2)
			require.True(t, r.res[0].Created)
			require.False(t, r.res[1].Created)
			require.Equal(t, committedID, r.res[1].Message.ID)
			require.Len(t, page.Messages, 2)
		})
	}
}

// waitForBlockedCreate returns once a create statement waits on the
// transaction of backend pid: it then runs on a snapshot without the row.
func waitForBlockedCreate(t *testing.T, s *postgres.Store, pid uint32) {
	t.Helper()
	for {
		var blocked bool
		err := s.Pool().QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE query LIKE '/* ims: create messages */%' AND $1::int = ANY (pg_blocking_pids(pid)))`,
			int32(pid)).Scan(&blocked)
		require.NoError(t, err)
		if blocked {
			return
		}
		select {
		case <-t.Context().Done():
			t.Fatal("the create statement never waited on the open transaction")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestCountsExactUnderConcurrentInstances: the status counters (migration
// 00017) are updated by every instance's creates, claims and outcomes at
// once, and still add up: no update lost, none waiting forever.
func TestCountsExactUnderConcurrentInstances(t *testing.T) {
	t.Parallel()
	stores, now := threeInstances(t)

	const creators, perCreator, workers = 3, 200, 6
	var wg sync.WaitGroup
	errs := make(chan error, creators+workers)
	var failed atomic.Bool // a creator's failure stops the workers too
	for c := range creators {
		wg.Go(func() {
			for i := range perCreator / 20 {
				nms := make([]ims.NewMessage, 20)
				for j := range nms {
					nms[j] = ims.NewMessage{PhoneNumber: "+905551234567", Content: fmt.Sprintf("c%d-%d-%d", c, i, j)}
				}
				if _, err := stores[c%len(stores)].CreateMessages(t.Context(), ims.WithActor("test", nms)); err != nil {
					errs <- err
					failed.Store(true)
					return
				}
			}
		})
	}
	var sent atomic.Int64
	for w := range workers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			for sent.Load() < creators*perCreator && !failed.Load() {
				msgs, err := s.ClaimDue(t.Context(), ims.ClaimParams{Limit: 9, Lease: time.Hour, Actor: "w"})
				if err != nil {
					errs <- err
					return
				}
				outs := make([]ims.Outcome, len(msgs))
				for i, m := range msgs {
					outs[i] = ims.Outcome{Claim: m.Claim(), At: now(), Result: ims.DeliveryResult{StatusCode: 202},
						Decision: ims.Decision{Status: ims.StatusSent, Reason: "delivered"}}
				}
				if err := s.RecordOutcomes(t.Context(), outs, "w"); err != nil {
					errs <- err
					return
				}
				sent.Add(int64(len(msgs)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, s := range stores {
		counts, err := s.CountByStatus(t.Context())
		require.NoError(t, err)
		require.Equal(t, int64(creators*perCreator), counts[ims.StatusSent])
		for st, n := range counts {
			if st != ims.StatusSent {
				require.Zero(t, n, "%s", st)
			}
		}
	}
}
