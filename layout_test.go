package ims_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRootShowsTheArchitecture keeps `ls` telling the design (README,
// "Development"): the domain's files, then one directory per role. A new
// tool or test helper goes under internal/, not here.
func TestRootShowsTheArchitecture(t *testing.T) {
	t.Parallel()
	want := []string{
		"cmd", "config", // wiring and settings
		"http", "webhook", "postgres", "sqlite", "rabbitmq", "redis", "metrics", // adapters
		"scheduler", // the engine
		"client",    // the public Go client
		"internal",  // what only IMS itself uses
		"docs",      // measurements and notes, not code
		"scripts",   // shell measurement scripts (no Go package: internal/ is for Go code)
	}
	require.ElementsMatch(t, want, dirs(t, "."), "root directories")
}

// TestStoresNameFilesAlike: the two stores keep the same subject in files of
// the same name, so a reader finds a rule's SQL in both at once. Only what is
// one dialect's own differs: the package file, PostgreSQL's mapping of lost
// connections to EUNAVAILABLE (SQLite has no connection to lose), and its
// claim floors (SQLite updates indexes in place: no dead entries to skip).
func TestStoresNameFilesAlike(t *testing.T) {
	t.Parallel()
	only := map[string][]string{
		"postgres": {"postgres.go", "unavailable.go", "claimfloor.go"},
		"sqlite":   {"sqlite.go"},
	}
	pg, lite := sources(t, "postgres"), sources(t, "sqlite")
	var pgOnly, liteOnly []string
	for _, f := range pg {
		if !slices.Contains(lite, f) {
			pgOnly = append(pgOnly, f)
		}
	}
	for _, f := range lite {
		if !slices.Contains(pg, f) {
			liteOnly = append(liteOnly, f)
		}
	}
	require.ElementsMatch(t, only["postgres"], pgOnly, "files only postgres/ has")
	require.ElementsMatch(t, only["sqlite"], liteOnly, "files only sqlite/ has")
}

func dirs(t *testing.T, path string) []string {
	t.Helper()
	entries, err := os.ReadDir(path)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && e.Name() != "bin" && e.Name() != "deps" {
			out = append(out, e.Name())
		}
	}
	return out
}

// sources lists the non-test Go files of a package directory.
func sources(t *testing.T, path string) []string {
	t.Helper()
	entries, err := os.ReadDir(path)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			out = append(out, e.Name())
		}
	}
	return out
}
