package postgres

import (
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/insiderone/ims"
)

// errUnavailable is what an API caller sees while PostgreSQL is down or
// restarting: a 503 that says to try again, not a 500.
var errUnavailable = ims.Errorf(ims.EUNAVAILABLE, "the database is unavailable; try again shortly")

// classify marks errors caused by a lost or refused database connection as
// EUNAVAILABLE, keeping the original error in the chain for the logs.
// Deferred by the methods the API calls: classify(&err).
func classify(err *error) {
	if *err != nil && isConnectionError(*err) && ims.ErrorCode(*err) == ims.EINTERNAL {
		*err = errors.Join(errUnavailable, *err)
	}
}

func isConnectionError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down, crashed or not accepting connections yet.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || pgconn.SafeToRetry(err) ||
		strings.Contains(err.Error(), "conn closed")
}
