// Package testenv gives integration tests access to the real services on the
// machine (PostgreSQL, Redis, RabbitMQ). A test asks for a service; when the
// service is unreachable the test is skipped locally but fails under CI, so a
// missing dependency can never turn a CI run green by silently skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables naming the services, and their defaults.
const (
	DatabaseURLEnv = "IMS_TEST_DATABASE_URL"
	RedisURLEnv    = "IMS_TEST_REDIS_URL"
	RabbitMQURLEnv = "IMS_TEST_RABBITMQ_URL"

	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultRabbitMQURL = "amqp://guest:guest@127.0.0.1:5672/"
)

// dialTimeout bounds every reachability check so a missing service costs a
// test run seconds, not minutes.
const dialTimeout = 3 * time.Second

// Integration skips t under `go test -short`: it needs an outside service,
// a built binary or a running service, which `make test-short` (unit tests
// only) must not. needs says what, for the skip message. Every helper of this
// package that hands out a service calls it, so a test that asks for one is
// an integration test without saying so.
func Integration(t testing.TB, needs string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s: skipped under -short (unit tests only)", needs)
	}
}

// RequireService skips t (or fails it when the CI environment variable is set)
// if err reports that the named service is unavailable. A nil err is a no-op.
func RequireService(t testing.TB, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s unavailable (CI is set, so this fails instead of skipping): %v", name, err)
	}
	t.Skipf("%s unavailable, skipping (set CI=1 to fail instead): %v", name, err)
}

// PostgresURL returns a connection URL for a fresh, empty schema that exists
// only for this test: its search_path points at the schema, so migrations and
// tables created through it are isolated from parallel tests. The schema is
// dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	Integration(t, "PostgreSQL")
	base := envOr(DatabaseURLEnv, DefaultDatabaseURL)
	schema := "ims_test_" + randomHex(t, 8)

	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
		RequireService(t, "PostgreSQL ("+DatabaseURLEnv+")", err)
		return ""
	}
	defer func() { _ = conn.Close(context.Background()) }()

	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("create test schema %s: %v", schema, err)
	}
	t.Cleanup(func() { dropSchema(t, base, ident) })

	u, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("build test database URL: %v", err)
	}
	return u
}

// dropSchema runs on a fresh connection because the test's own connections
// are closed (or closing) by the time cleanup runs.
func dropSchema(t testing.TB, base, ident string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("drop test schema %s: connect: %v", ident, err)
		return
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident+" CASCADE"); err != nil {
		t.Errorf("drop test schema %s: %v", ident, err)
	}
}

// withSearchPath adds search_path to a URL (pgx sends unknown URL query
// parameters as runtime parameters) or to a keyword/value DSN.
func withSearchPath(base, schema string) (string, error) {
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " search_path=" + schema, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", DatabaseURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// RedisURL returns the Redis URL for tests after checking that the server
// accepts TCP connections.
func RedisURL(t testing.TB) string {
	t.Helper()
	Integration(t, "Redis")
	raw := envOr(RedisURLEnv, DefaultRedisURL)
	RequireService(t, "Redis ("+RedisURLEnv+")", dialURL(raw, "6379"))
	return raw
}

// RabbitMQURL returns the AMQP URL for tests after checking that the broker
// accepts TCP connections.
func RabbitMQURL(t testing.TB) string {
	t.Helper()
	Integration(t, "RabbitMQ")
	raw := envOr(RabbitMQURLEnv, DefaultRabbitMQURL)
	RequireService(t, "RabbitMQ ("+RabbitMQURLEnv+")", dialURL(raw, "5672"))
	return raw
}

// dialURL checks TCP reachability of the host in raw, using defaultPort when
// the URL names none.
func dialURL(raw, defaultPort string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse %q: %w", raw, err)
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	host := u.Hostname()
	if host == "" {
		host = "127.0.0.1"
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), dialTimeout)
	if err != nil {
		return fmt.Errorf("dial %s: %w", u.Redacted(), err)
	}
	return conn.Close()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random schema name: %v", err)
	}
	return hex.EncodeToString(b)
}
