package ims_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// TestEventTypesListsEveryConstant reads the package source: every Event*
// string constant must be in ims.EventTypes, or GET /api/audit?type= would
// refuse a type IMS writes, and must be declared in events.go, their one
// home, where a reader looks for them.
func TestEventTypesListsEveryConstant(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var declared []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Event") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						declared = append(declared, v)
						require.Equal(t, "events.go", e.Name(), "%s belongs in events.go", name.Name)
					}
				}
			}
		}
	}
	require.NotEmpty(t, declared)
	require.ElementsMatch(t, declared, ims.EventTypes, "ims.EventTypes must list every Event* constant, once")
}

func TestKnownEventType(t *testing.T) {
	t.Parallel()
	for _, typ := range ims.EventTypes {
		require.True(t, ims.KnownEventType(typ), typ)
	}
	require.False(t, ims.KnownEventType("nope"))
	require.False(t, ims.KnownEventType(""))
}
