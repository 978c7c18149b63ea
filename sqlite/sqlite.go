// Package sqlite is the embedded ims.Store: one local file, no server, for a
// bare machine, the demo and tests. It uses the pure-Go modernc.org/sqlite.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/broadcast"
	"github.com/insiderone/ims/internal/msgid"
)

// MaxReadConns bounds the read pool. Each SQLite connection carries its own
// page cache and statement memory, so an unbounded pool let a burst of
// concurrent reads (hundreds of scrapes) open hundreds of connections and
// hundreds of megabytes; reads beyond the bound wait for a free connection.
// SQLite reads run on this process's CPUs, so more connections than a few
// per core gain nothing.
const MaxReadConns = 8

// busyTimeout bounds how long a reader waits on a checkpoint or another
// process. Writers of this process never wait on each other in SQLite: they
// queue for the single write connection instead.
const busyTimeout = 10 * time.Second

// walAutocheckpointPages is how many pages the write-ahead log may hold
// before a commit copies them back into the database file (SQLite's default
// is 1,000, ~4 MiB). A drain rewrites the same pages (the status index's tail,
// the counters, the pages of rows just claimed) many times between two
// checkpoints, and a checkpoint writes each page once whatever number of
// versions the log holds, so a longer log means fewer page writes and fsyncs
// per message: a 1,000,000-message backlog drained 21% faster at 10,000 pages
// and 200,000-message drains 1–29% faster (docs/benchmarks.md, 2026-12-03).
// The price is a log file of up to ~40 MiB beside the database (more while a
// long read holds a snapshot).
const walAutocheckpointPages = 10_000

// Store implements ims.Store and ims.Waker on SQLite.
//
// SQLite allows one writer at a time. Rather than letting writers collide and
// retry on SQLITE_BUSY, all writes go through one connection (write) whose
// transactions start with BEGIN IMMEDIATE, so they simply queue in
// database/sql. Reads use a separate pool and, thanks to WAL, never block on
// the writer.
type Store struct {
	// Now tells the time for every timestamp the store writes. Set it before
	// first use; it defaults to time.Now.
	Now ims.Clock

	read  *sql.DB
	write *sql.DB
	ids   msgid.Generator // message IDs carry their created_at
	wake  chan struct{}
	// states tells StateChanged's waiters of a state change or confirmation.
	states broadcast.Signal
}

var (
	_ ims.Store = (*Store)(nil)
	_ ims.Waker = (*Store)(nil)
)

// Open opens (creating if needed) the database file at path. It does not
// migrate: call Migrate. path may also be written "sqlite://path",
// "sqlite:path" or "file:path". The special path ":memory:" gives a private
// in-memory database served by a single connection.
func Open(ctx context.Context, path string) (*Store, error) {
	// Accept DATABASE_URL-style spellings of a file path too.
	for _, prefix := range []string{"sqlite://", "sqlite:", "file:"} {
		path = strings.TrimPrefix(path, prefix)
	}
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	s := &Store{Now: time.Now, wake: make(chan struct{}, 1)}
	if path == ":memory:" {
		db, err := openDB(ctx, "file::memory:", 1)
		if err != nil {
			return nil, err
		}
		s.read, s.write = db, db
		return s, nil
	}
	write, err := openDB(ctx, "file:"+path, 1)
	if err != nil {
		return nil, err
	}
	read, err := openDB(ctx, "file:"+path, MaxReadConns)
	if err != nil {
		return nil, errors.Join(err, write.Close())
	}
	s.read, s.write = read, write
	return s, nil
}

// openDB opens one pool of at most maxConns connections; 1 makes it the
// serialized writer.
func openDB(ctx context.Context, base string, maxConns int) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutocheckpointPages))
	// Statement journals (the undo record of one statement inside a larger
	// transaction, which a multi-row write keeps) and temporary B-trees stay
	// in memory instead of temporary files that are opened, written and
	// closed per statement: a fifth fewer write calls and 5-7% more
	// delivered/s in a SQLite drain (docs/benchmarks.md, 2026-12-03). They
	// hold one statement's changed pages at most (peak RSS did not move, at
	// SCHEDULER_BATCH_SIZE=100000 either).
	q.Add("_pragma", "temp_store(MEMORY)")
	if maxConns == 1 {
		// The writer takes the write lock when a transaction begins, not at
		// its first write, so a read-then-write transaction cannot deadlock.
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", base+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", base, err)
	}
	db.SetMaxOpenConns(maxConns)
	// Keep the connections (at most maxConns): reopening one reapplies the
	// pragmas, and for ":memory:" closing the one connection loses the data.
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite %s: %w", base, err), db.Close())
	}
	return db, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close closes the database. The store starts no goroutines of its own.
func (s *Store) Close() error {
	if s.read == s.write {
		return s.write.Close()
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

// now returns the store's time as it is stored: UTC, microsecond precision.
func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// inTx runs fn in one write transaction (BEGIN IMMEDIATE) and commits it.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// eachRow calls step for rows 0..n-1 of a batch in a write transaction,
// giving it the context for statements that write one row: ctx without its
// cancellation. modernc's driver starts a goroutine for every statement whose
// context can end, to interrupt it; for a one-row step that costs more than a
// third of the step's work outside SQLite's VM (~8,000 instructions a row
// per statement pair, docs/benchmarks.md). The loop still ends once ctx
// does: eachRow checks it before every row and returns its error, and
// database/sql rolls the transaction back. A set-based statement (a claim, a
// purge) keeps ctx: it can run long enough for an interrupt to matter.
// step's parameter is named ctx at the call sites on purpose: it shadows the
// cancellable one, so no statement of the loop runs with it by mistake.
func eachRow(ctx context.Context, n int, step func(ctx context.Context, i int) error) error {
	rowCtx := context.WithoutCancel(ctx)
	for i := range n {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("row %d of %d: %w", i, n, err)
		}
		if err := step(rowCtx, i); err != nil {
			return err
		}
	}
	return nil
}

func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// micros and fromMicros convert between times and the stored integers.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores an optional time.
func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}
