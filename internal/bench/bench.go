// Package bench is the load harness behind `ims bench`. It runs IMS as a
// separate process (the real binary, configured through the environment as
// an operator would), points its webhook at an in-process sink, loads N
// messages through the API, lets the scheduler deliver them, and measures
// what arrived: throughput, end-to-end latency, lost and duplicated
// deliveries (counted per Idempotency-Key, which is the message id), and the
// peak memory of both processes.
//
// With Config.Raw it also measures the ceiling of the same machine in the
// same run: the webhook client IMS uses, posting straight to a sink with
// the same concurrency and no IMS in between, so every figure can be given
// as a ratio to it.
//
// Follow a run in this order: Run (bench.go), the database and queue it
// prepares (env.go), the IMS process (process.go), loading (load.go), the
// per-message bookkeeping (tracker.go) and the report (report.go).
package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/insiderone/ims"
)

// Databases and queue modes.
const (
	DBSQLite       = "sqlite"
	DBPostgres     = "postgres"
	QueueDB        = ims.QueueModeDB
	QueueRabbitMQ  = ims.QueueModeRabbitMQ
	CreateAPI      = "api"
	CreateBulk     = "bulk"
	DefaultTimeout = 10 * time.Minute
)

// Defaults of Config's zero values.
const (
	DefaultN            = 10_000
	DefaultAPIClients   = 64
	DefaultBulkClients  = 4
	DefaultBulkSize     = 1000
	DefaultBatchSize    = 1000
	DefaultConcurrency  = 64
	DefaultPostgresBase = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRabbitMQURL  = "amqp://guest:guest@127.0.0.1:5672/"
)

// ErrLost is returned (wrapped) by Run when a created message never reached
// the sink: the one result a benchmark of an at-least-once service must
// never show.
var ErrLost = errors.New("messages lost")

// Config is one benchmark run. Zero values take the defaults above.
type Config struct {
	// Binary is the ims executable to run with `serve`.
	Binary string
	// N is how many messages to create and deliver.
	N int
	// DB is DBSQLite or DBPostgres. DatabaseURL is the PostgreSQL server to
	// use: the run creates a fresh schema in it and drops it afterwards.
	DB          string
	DatabaseURL string
	// Queue is QueueDB or QueueRabbitMQ; RabbitMQURL is the broker. The run
	// uses a unique prefix and deletes its queues afterwards.
	Queue       string
	RabbitMQURL string
	// Create is CreateAPI (one POST /api/messages per message) or
	// CreateBulk (POST /api/messages/batch with BulkSize messages each).
	Create   string
	Clients  int // concurrent creating clients; 0 = 64 (api) or 4 (bulk)
	BulkSize int
	// BatchSize, Concurrency and Interval are SCHEDULER_BATCH_SIZE,
	// WORKER_CONCURRENCY and SCHEDULER_INTERVAL (0 = continuous).
	BatchSize   int
	Concurrency int
	Interval    time.Duration
	// Rate, when above zero, is the steady mode: the scheduler runs from the
	// start and messages are created at Rate per second, so latency is
	// measured under a known offered load. Otherwise all N messages are
	// loaded first and the scheduler is started afterwards (drain mode).
	Rate float64
	// Raw also measures the ceiling: the webhook client posting straight to
	// a sink, with Concurrency workers, N messages, no IMS.
	Raw bool
	// FailureRate is the sink's share of injected HTTP 500 answers.
	FailureRate float64
	// Timeout bounds the whole run.
	Timeout time.Duration
	// ServeEnv holds extra "KEY=VALUE" settings for `ims serve`, applied
	// last, so a run can measure a feature on and off (for instance
	// WEBHOOK_RATE_LIMIT) without a flag of its own for each setting.
	ServeEnv []string
	// Progress, when set, gets a one-line progress bar redrawn with "\r".
	Progress io.Writer
	// ProgressLines prints plain progress lines instead (one every
	// progressLineEvery, no "\r"): for a log file or a CI job, where a
	// redrawn bar is one unreadable line.
	ProgressLines bool
	// Logs, when set, gets the IMS process's log (warnings and errors).
	Logs io.Writer
}

func (c *Config) withDefaults() error {
	c.N = orDefault(c.N, DefaultN)
	c.DB = orDefault(c.DB, DBSQLite)
	c.Queue = orDefault(c.Queue, QueueDB)
	c.Create = orDefault(c.Create, CreateAPI)
	c.BulkSize = orDefault(c.BulkSize, DefaultBulkSize)
	c.BatchSize = orDefault(c.BatchSize, DefaultBatchSize)
	c.Concurrency = orDefault(c.Concurrency, DefaultConcurrency)
	c.DatabaseURL = orDefault(c.DatabaseURL, DefaultPostgresBase)
	c.RabbitMQURL = orDefault(c.RabbitMQURL, DefaultRabbitMQURL)
	c.Timeout = orDefault(c.Timeout, DefaultTimeout)
	if c.Clients == 0 {
		c.Clients = DefaultAPIClients
		if c.Create == CreateBulk {
			c.Clients = DefaultBulkClients
		}
	}
	switch {
	case c.Binary == "":
		return errors.New("bench: the ims binary to run is required")
	case c.N < 1:
		return errors.New("bench: n must be at least 1")
	case c.DB != DBSQLite && c.DB != DBPostgres:
		return fmt.Errorf("bench: db must be sqlite or postgres, got %q", c.DB)
	case c.Queue != QueueDB && c.Queue != QueueRabbitMQ:
		return fmt.Errorf("bench: queue must be db or rabbitmq, got %q", c.Queue)
	case c.Create != CreateAPI && c.Create != CreateBulk:
		return fmt.Errorf("bench: create must be api or bulk, got %q", c.Create)
	case c.Rate > 0 && c.Create != CreateAPI:
		return errors.New("bench: a steady rate creates through the API, one message per request (use -create api)")
	case c.Clients < 1 || c.BulkSize < 1 || c.BatchSize < 1 || c.Concurrency < 1:
		return errors.New("bench: clients, bulk size, batch size and concurrency must be at least 1")
	case c.Rate < 0 || c.Interval < 0 || c.Timeout < 0:
		return errors.New("bench: rate, interval and timeout must not be negative")
	case c.FailureRate < 0 || c.FailureRate >= 1:
		return errors.New("bench: failure rate must be in [0, 1)")
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Mode names what the run measured.
func (c Config) Mode() string {
	switch {
	case c.Rate > 0:
		return "steady"
	case c.Interval > 0:
		return "paced"
	}
	return "drain"
}
