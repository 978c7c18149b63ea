// Package batch turns a channel of single items into batches for one
// consumer goroutine: the create coalescer, the scheduler's completer and
// renewer, and the sent-cache writer all collect work this way.
//
// Collecting: a batch starts with the first item to arrive and takes every
// item already waiting, up to Max, without waiting for more. Under load that
// makes large batches (items pile up while the previous flush runs); when
// idle an item is flushed at once, so batching adds no latency. With Linger
// set, a batch that is not full waits up to Linger for more items first.
//
// Drain rule (the only way Run ends): once ctx has ended, Run waits for
// nothing more. It flushes the batch in hand together with every item
// already in the channel, in batches of at most Max, stops at the first
// flush that returns an error (the rest would most likely fail too, and a
// shutdown must stay short), and returns. Items sent after Run returned are
// never read: producers must have stopped before ctx ends, or must not
// depend on an answer after it.
package batch

import (
	"context"
	"time"
)

// Options tune Run.
type Options struct {
	// Max is the most items one flush gets (at least 1).
	Max int
	// Linger is how long a batch that is not full waits for more items
	// before it is flushed; 0 flushes what is waiting at once.
	Linger time.Duration
}

// Run reads in until ctx ends and passes the items to flush in batches (see
// the package doc). flush must not keep the slice: Run reuses it. A flush
// error is the caller's to log or answer; Run only uses it to end a drain.
func Run[T any](ctx context.Context, in <-chan T, opt Options, flush func([]T) error) {
	opt.Max = max(opt.Max, 1)
	buf := make([]T, 0, min(opt.Max, 1024))
	var linger *time.Timer
	if opt.Linger > 0 {
		linger = time.NewTimer(opt.Linger)
		linger.Stop()
		defer linger.Stop()
	}
	for {
		// ctx first, so that an ended ctx always drains (a select between a
		// ready ctx and a ready channel picks at random).
		if ctx.Err() != nil {
			drain(in, buf, opt.Max, flush)
			return
		}
		select {
		case <-ctx.Done():
			continue
		case item := <-in:
			buf = fill(in, append(buf, item), opt.Max)
		}
		if linger != nil && len(buf) < opt.Max {
			buf = wait(ctx, in, buf, opt.Max, linger, opt.Linger)
			if ctx.Err() != nil {
				continue // the batch in hand goes into the drain
			}
		}
		_ = flush(buf)
		clear(buf) // drop references the flushed items hold
		buf = buf[:0]
	}
}

// fill tops buf up with the items already waiting, up to max.
func fill[T any](in <-chan T, buf []T, max int) []T {
	for len(buf) < max {
		select {
		case item := <-in:
			buf = append(buf, item)
		default:
			return buf
		}
	}
	return buf
}

// wait tops buf up for at most d, or until it is full or ctx ends.
func wait[T any](ctx context.Context, in <-chan T, buf []T, max int, t *time.Timer, d time.Duration) []T {
	t.Reset(d)
	defer t.Stop()
	for len(buf) < max {
		select {
		case item := <-in:
			buf = fill(in, append(buf, item), max)
		case <-t.C:
			return buf
		case <-ctx.Done():
			return buf
		}
	}
	return buf
}

// drain flushes buf and everything still waiting, by the package's rule.
func drain[T any](in <-chan T, buf []T, max int, flush func([]T) error) {
	for buf = fill(in, buf, max); len(buf) > 0; buf = fill(in, buf[:0], max) {
		if flush(buf) != nil {
			return
		}
		clear(buf)
	}
}
