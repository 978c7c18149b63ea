package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestClassifyMarksConnectionErrorsUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, ims.EUNAVAILABLE},
		{"connection failure", fmt.Errorf("get message: %w", &pgconn.PgError{Code: "08006"}), ims.EUNAVAILABLE},
		{"unique violation stays internal", &pgconn.PgError{Code: "23505"}, ims.EINTERNAL},
		{"not found stays not found", ims.Errorf(ims.ENOTFOUND, "nope"), ims.ENOTFOUND},
		{"plain error stays internal", errors.New("boom"), ims.EINTERNAL},
		{"cancelled stays internal", context.Canceled, ims.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.err
			classify(&err)
			require.Equal(t, tt.want, ims.ErrorCode(err))
			require.ErrorIs(t, err, tt.err, "the cause stays in the chain for the logs")
		})
	}
}
