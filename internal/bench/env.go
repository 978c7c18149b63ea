package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/insiderone/ims/internal/logging"
	"github.com/insiderone/ims/rabbitmq"
)

// cleanupTimeout bounds dropping the run's schema and queues.
const cleanupTimeout = 30 * time.Second

// resources are what a run creates outside itself and removes afterwards.
type resources struct {
	env     map[string]string // settings for the IMS process
	cleanup []func(ctx context.Context) error
}

func (r *resources) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var errs []error
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		errs = append(errs, r.cleanup[i](ctx))
	}
	return errors.Join(errs...)
}

// prepare creates the database (a fresh SQLite file in dir, or a fresh
// PostgreSQL schema) and the queue prefix, and returns IMS's settings for them.
func prepare(ctx context.Context, cfg Config, dir string) (*resources, error) {
	r := &resources{env: map[string]string{}}
	suffix, err := randomSuffix()
	if err != nil {
		return nil, err
	}
	switch cfg.DB {
	case DBSQLite:
		r.env["SQLITE_PATH"] = filepath.Join(dir, "bench.db")
	case DBPostgres:
		dbURL, drop, err := createSchema(ctx, cfg.DatabaseURL, "ims_bench_"+suffix)
		if err != nil {
			return nil, err
		}
		r.env["DATABASE_URL"] = dbURL
		r.cleanup = append(r.cleanup, drop)
	}
	if cfg.Queue == QueueRabbitMQ {
		prefix := "ims-bench-" + suffix
		r.env["RABBITMQ_ENABLED"] = "true"
		r.env["RABBITMQ_URL"] = cfg.RabbitMQURL
		r.env["RABBITMQ_PREFIX"] = prefix
		r.cleanup = append(r.cleanup, func(ctx context.Context) error {
			return deleteTopology(ctx, cfg.RabbitMQURL, prefix)
		})
	}
	return r, nil
}

func randomSuffix() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// createSchema makes a schema that only this run uses and returns a URL whose
// search_path points at it (pgx passes unknown URL parameters to the server),
// so IMS migrates and works inside it. drop removes it with everything in it.
func createSchema(ctx context.Context, base, schema string) (string, func(context.Context) error, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("database url must be a postgres:// URL, got %q", base)
	}
	ident := pgx.Identifier{schema}.Sanitize()
	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return fmt.Errorf("connect to PostgreSQL %s: %w", u.Redacted(), err)
		}
		defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		return nil
	}
	if err := exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func(ctx context.Context) error { return exec(ctx, "DROP SCHEMA IF EXISTS "+ident+" CASCADE") }
	return u.String(), drop, nil
}

// deleteTopology removes the run's exchanges and queues. Their names come
// from the rabbitmq package itself (declaring them is idempotent), so this
// cannot drift from what IMS declared.
func deleteTopology(ctx context.Context, brokerURL, prefix string) error {
	q, err := rabbitmq.New(ctx, rabbitmq.Config{URL: brokerURL, Prefix: prefix, Logger: logging.Discard()})
	if err != nil {
		return fmt.Errorf("connect to RabbitMQ to delete %s: %w", prefix, err)
	}
	topo := q.Topology()
	_ = q.Close()
	conn, err := amqp.Dial(brokerURL)
	if err != nil {
		return fmt.Errorf("connect to RabbitMQ to delete %s: %w", prefix, err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open RabbitMQ channel: %w", err)
	}
	defer ch.Close()
	var errs []error
	for _, name := range topo.Queues() {
		if _, err := ch.QueueDelete(name, false, false, false); err != nil {
			errs = append(errs, fmt.Errorf("delete queue %s: %w", name, err))
		}
	}
	for _, name := range topo.Exchanges() {
		if err := ch.ExchangeDelete(name, false, false); err != nil {
			errs = append(errs, fmt.Errorf("delete exchange %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
