package postgres_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// uuidParam finds the parameters a statement casts to uuid or uuid[].
var uuidParam = regexp.MustCompile(`\$(\d+)::uuid\b`)

// uuidBindings is a query tracer that records every statement binding a
// uuid parameter as anything but pgtype.UUID. pgx cannot encode a string
// as a binary uuid: it builds an error (formatting the whole value), then
// sends the value as text for PostgreSQL to parse, on every call; a
// uuid.UUID goes through reflection, slower still (parseID). Every store
// test runs with it (openURL).
type uuidBindings struct {
	mu  sync.Mutex
	bad []string
}

func (u *uuidBindings) TraceQueryStart(ctx context.Context, _ *pgx.Conn, q pgx.TraceQueryStartData) context.Context {
	for _, m := range uuidParam.FindAllStringSubmatch(q.SQL, -1) {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > len(q.Args) {
			continue
		}
		switch arg := q.Args[n-1].(type) {
		case pgtype.UUID, []pgtype.UUID:
		default:
			u.mu.Lock()
			u.bad = append(u.bad, fmt.Sprintf("$%s (%T) of: %s", m[1], arg, firstLine(q.SQL)))
			u.mu.Unlock()
		}
	}
	return ctx
}

func (u *uuidBindings) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// check fails tb for every statement seen that bound a string as a uuid.
func (u *uuidBindings) check(tb testing.TB) {
	tb.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	seen := map[string]bool{}
	for _, b := range u.bad {
		if !seen[b] {
			seen[b] = true
			tb.Errorf("a uuid parameter bound as other than pgtype.UUID: %s", b)
		}
	}
}

func firstLine(sql string) string {
	for i, r := range sql {
		if r == '\n' {
			return sql[:i]
		}
	}
	return sql
}
