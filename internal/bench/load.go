package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/insiderone/ims/client"
)

// loader creates the run's messages and records, per message, when its
// create request returned.
type loader struct {
	cfg      Config
	api      *client.Client
	tr       *tracker
	failed   atomic.Int64
	errOnce  sync.Once
	firstErr error
}

// loadResult is how loading went.
type loadResult struct {
	start, end time.Time
	failed     int64
	firstErr   error
}

// run creates cfg.N messages: as fast as Clients concurrent callers go, or
// at cfg.Rate per second in steady mode. A failed create is counted, not
// retried (a retry would hide the failure the run should report).
func (l *loader) run(ctx context.Context) loadResult {
	res := loadResult{start: time.Now()}
	switch {
	case l.cfg.Rate > 0:
		l.steady(ctx)
	case l.cfg.Create == CreateBulk:
		l.fanOut(ctx, (l.cfg.N+l.cfg.BulkSize-1)/l.cfg.BulkSize, l.createBatch)
	default:
		l.fanOut(ctx, l.cfg.N, l.createOne)
	}
	res.end, res.failed, res.firstErr = time.Now(), l.failed.Load(), l.firstErr
	return res
}

// fanOut runs job(0..jobs-1) on Clients goroutines.
func (l *loader) fanOut(ctx context.Context, jobs int, job func(context.Context, int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(l.cfg.Clients, jobs) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= jobs {
					return
				}
				job(ctx, i)
			}
		})
	}
	wg.Wait()
}

// steady offers message i at start + i/Rate: an open-loop schedule, so a
// slow answer does not lower the offered rate (it only delays the caller
// that waited for it; Clients callers share the schedule).
func (l *loader) steady(ctx context.Context) {
	period := time.Duration(float64(time.Second) / l.cfg.Rate)
	jobs := make(chan int, l.cfg.Clients)
	var wg sync.WaitGroup
	for range l.cfg.Clients {
		wg.Go(func() {
			for i := range jobs {
				l.createOne(ctx, i)
			}
		})
	}
	start := time.Now()
	for i := 0; i < l.cfg.N && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * period)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
}

func (l *loader) createOne(ctx context.Context, i int) {
	id, err := createOne(ctx, l.api, i)
	if err != nil {
		l.fail(ctx, 1, err)
		return
	}
	l.record(ctx, id, time.Now())
}

func (l *loader) createBatch(ctx context.Context, chunk int) {
	from := chunk * l.cfg.BulkSize
	to := min(from+l.cfg.BulkSize, l.cfg.N)
	created, err := createBatch(ctx, l.api, from, to)
	if err != nil {
		l.fail(ctx, int64(to-from), err)
		return
	}
	if len(created) != to-from {
		l.fail(ctx, int64(to-from), fmt.Errorf("batch of %d answered with %d messages", to-from, len(created)))
		return
	}
	at := time.Now()
	for _, m := range created {
		l.record(ctx, m.ID, at)
	}
}

func (l *loader) record(ctx context.Context, rawID string, at time.Time) {
	id, err := uuid.Parse(rawID)
	if err != nil {
		l.fail(ctx, 1, fmt.Errorf("create answered with id %q: %w", rawID, err))
		return
	}
	l.tr.createdAt(id, at)
}

// fail counts n messages that were not created; errors after the run was
// cancelled (timeout, Ctrl-C) are its consequence, not news.
func (l *loader) fail(ctx context.Context, n int64, err error) {
	if ctx.Err() != nil {
		return
	}
	l.failed.Add(n)
	l.errOnce.Do(func() { l.firstErr = err })
}
