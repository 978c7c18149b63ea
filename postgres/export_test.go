package postgres

import "github.com/jackc/pgx/v5"

// WithQueryTracer makes tr see every statement of the store's pool.
func WithQueryTracer(tr pgx.QueryTracer) Option { return func(s *Store) { s.tracer = tr } }
