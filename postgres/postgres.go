// Package postgres implements ims.Store on PostgreSQL with pgx.
//
// Every hot path (create, claim, renew, record, release) is a single SQL
// statement — one round trip and implicitly one transaction — so throughput is
// bounded by the database, not by network chatter. Work that becomes due is
// announced with pg_notify inside the writing statement and received by a
// LISTEN loop, so the delivery pipeline wakes without polling.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/broadcast"
	"github.com/insiderone/ims/internal/logging"
	"github.com/insiderone/ims/internal/msgid"
)

// Store is the PostgreSQL ims.Store. It also implements ims.Waker.
type Store struct {
	// Now is the clock for every timestamp the store writes (default
	// time.Now). SQL never calls now(), so tests can inject time and both
	// stores agree on it.
	Now ims.Clock
	// Logger receives listener reconnects; nil means none (logging.OrDiscard).
	// Give it with WithLogger: the listener may read it as soon as Open
	// returns.
	Logger *slog.Logger

	pool    *pgxpool.Pool
	ids     msgid.Generator // message IDs carry their created_at
	floors  claimFloors     // where claims start their walk of the due index
	schema  string          // the schema unqualified names resolve to
	channel string          // LISTEN/NOTIFY channel for this schema

	// tracer, when set (tests), sees every statement of the pool.
	tracer pgx.QueryTracer

	wake chan struct{}
	// states tells StateChanged's waiters of a notification with
	// statePayload: a state change or confirmation by any instance.
	states broadcast.Signal
	cancel context.CancelFunc
	done   chan struct{}
}

var (
	_ ims.Store        = (*Store)(nil)
	_ ims.Waker        = (*Store)(nil)
	_ ims.StateWatcher = (*Store)(nil)
)

// Open connects to the database at url (a postgres:// URL or key=value DSN;
// search_path, pool_max_conns and friends are honoured) and starts the
// LISTEN loop. It does not migrate: call Migrate.
//
// The pool is bounded: pool_max_conns, or pgx's default of max(4, CPUs);
// past it, queries wait for a free connection. The LISTEN loop holds one
// more connection of its own.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	s := &Store{
		Now:  time.Now,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.tracer != nil {
		cfg.ConnConfig.Tracer = s.tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	var schema string
	err = pool.QueryRow(ctx, "SELECT coalesce(current_schema(), 'public')").Scan(&schema)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	s.pool, s.schema, s.channel = pool, schema, channelName(schema)
	s.warnIfAutovacuumOff(ctx)
	// LISTEN before returning, so that no notification sent after Open can
	// be missed.
	conn, err := s.connectListener(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		pool.Close()
		return nil, err
	}
	listenCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.listen(listenCtx, cfg.ConnConfig.Copy(), conn)
	return s, nil
}

// autovacuumOffWarning is logged at Open when the server runs without
// autovacuum. Every claim leaves a dead entry at the front of the due index
// and only VACUUM removes it. A claim that starts at its floor (claimFloors)
// steps over few of them, but one that walks from the front steps over the
// entries of every message claimed before (measured: 85 ms to reach the first
// due row after ~600,000 claims, see docs/benchmarks.md): every claim of a
// steady flow that keeps up, and one a second while a backlog drains.
const autovacuumOffWarning = "PostgreSQL autovacuum is off: claims slow down as dead index entries pile up " +
	"in front of the due messages; turn autovacuum on, or VACUUM the messages table regularly"

// warnIfAutovacuumOff logs autovacuumOffWarning when the server's
// autovacuum setting is off. It only reads a setting: a failure to read it
// is not worth failing Open for.
func (s *Store) warnIfAutovacuumOff(ctx context.Context) {
	var on bool
	if err := s.pool.QueryRow(ctx, "SELECT current_setting('autovacuum')::boolean").Scan(&on); err != nil || on {
		return
	}
	logging.OrDiscard(s.Logger).Warn(autovacuumOffWarning)
}

// Option sets up a Store before Open starts its listener.
type Option func(*Store)

// WithLogger makes l receive the listener's reconnect warnings.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.Logger = l } }

// channelName scopes wakeups to one schema, so stores in parallel test
// schemas (or several IMS deployments in one database) do not wake each other.
func channelName(schema string) string {
	name := "ims_work_" + schema
	const maxIdentifier = 63 // NAMEDATALEN-1: pg_notify rejects longer names
	if len(name) > maxIdentifier {
		name = name[:maxIdentifier]
	}
	return name
}

// Close stops the LISTEN loop and closes the pool. It is safe to call twice.
func (s *Store) Close() error {
	s.cancel()
	<-s.done
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer classify(&err)
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Pool exposes the connection pool, for tests and diagnostics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// now is the store's clock as stored: UTC, microsecond precision (Postgres
// keeps microseconds, and SQLite must agree).
func (s *Store) now() time.Time {
	clock := s.Now
	if clock == nil {
		clock = time.Now
	}
	return micro(clock())
}

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// microPtr truncates an optional time.
func microPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := micro(*t)
	return &v
}

func (s *Store) logger() *slog.Logger { return logging.OrDiscard(s.Logger) }

// isNoRows reports whether err means a query matched nothing.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
