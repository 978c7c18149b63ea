package postgres

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
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

// TestEveryStoreMethodClassifiesItsErrors: a caller tells a database that is
// down (retry, 503) from a failure of the request by ims.EUNAVAILABLE, which
// only classify sets. The delivery path's methods lacked it, so the
// scheduler gave up on outcomes during a restart it would have waited out.
// Every exported method of Store that returns an error defers classify.
func TestEveryStoreMethodClassifiesItsErrors(t *testing.T) {
	t.Parallel()
	exempt := map[string]bool{"Close": true} // ends the pool; nothing to retry
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || !isStoreMethod(fd) || !fd.Name.IsExported() || !returnsError(fd) || exempt[fd.Name.Name] {
				continue
			}
			checked++
			require.True(t, defersClassify(fd), "%s: Store.%s returns an error without defer classify(&err)", f, fd.Name.Name)
		}
	}
	require.Greater(t, checked, 40, "the check found the store's methods")
}

func isStoreMethod(fd *ast.FuncDecl) bool {
	if fd.Recv == nil || len(fd.Recv.List) != 1 {
		return false
	}
	star, ok := fd.Recv.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := star.X.(*ast.Ident)
	return ok && id.Name == "Store"
}

func returnsError(fd *ast.FuncDecl) bool {
	if fd.Type.Results == nil {
		return false
	}
	res := fd.Type.Results.List
	id, ok := res[len(res)-1].Type.(*ast.Ident)
	return ok && id.Name == "error"
}

func defersClassify(fd *ast.FuncDecl) bool {
	found := false
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if ds, ok := n.(*ast.DeferStmt); ok {
			if id, ok := ds.Call.Fun.(*ast.Ident); ok && id.Name == "classify" {
				found = true
			}
		}
		return !found
	})
	return found
}
