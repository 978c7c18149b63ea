package config

// Checks of the repository as a whole that `make test` (and so CI) must
// catch, not only `make lint`: issue 7 found a file gofmt flags and a README
// whose Go version disagreed with go.mod.

import (
	"bytes"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is the module root, one level up from this package.
const repoRoot = ".."

func TestEveryGoFileIsGofmted(t *testing.T) {
	t.Parallel()
	var checked int
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != repoRoot && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		formatted, err := format.Source(src)
		require.NoError(t, err, "%s must parse", path)
		require.True(t, bytes.Equal(src, formatted), "%s is not gofmt-formatted: run gofmt -w %s", path, path)
		checked++
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, checked, 100, "the walk found the module's Go files")
}

// goDirective is the go line of go.mod.
var goDirective = regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)\s*$`)

func TestREADMEGoVersionIsGoMod(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	require.NoError(t, err)
	m := goDirective.FindSubmatch(mod)
	require.NotNil(t, m, "go.mod has a go line")
	version := string(m[1])
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	require.True(t, strings.Contains(string(readme), "Go ("+version+" or later"), "README must say Go (%s or later, go.mod's go line", version)
	for _, other := range regexp.MustCompile(`\bGo \(?(1\.\d+(?:\.\d+)?)\+?`).FindAllSubmatch(readme, -1) {
		require.Equal(t, version, string(other[1]), "README names Go %s, go.mod says %s", other[1], version)
	}
}
