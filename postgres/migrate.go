package postgres

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies every pending migration. The tables and goose's version
// table go into the schema the connection's search_path names, so one
// database can hold isolated IMS schemas (tests rely on it). Concurrent
// migrators of the same schema wait for each other on an advisory lock.
func (s *Store) Migrate(ctx context.Context) (err error) {
	defer classify(&err)
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: open embedded migrations: %w", err)
	}
	// goose speaks database/sql; give it a handle on the same settings
	// (search_path included) just for migrating.
	db := stdlib.OpenDB(*s.pool.Config().ConnConfig)
	defer func() { _ = db.Close() }()

	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(s.migrationLockID()),
		lock.WithLockTimeout(1, 300),
	)
	if err != nil {
		return fmt.Errorf("migrate: create lock: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// migrationLockID derives the advisory lock from the schema, so migrating
// one schema never waits for another (parallel tests each have their own).
func (s *Store) migrationLockID() int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("ims-migrate:" + s.schema))
	return int64(h.Sum64() >> 1)
}
