package bench

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// imsBinary is the ims executable built once for every test of the package:
// the harness runs IMS as a separate process, as `ims bench` does. It is not
// built under -short, where the tests that need it skip (testenv.Integration).
var imsBinary string

func TestMain(m *testing.M) {
	flag.Parse() // for testing.Short
	dir, err := os.MkdirTemp("", "ims-bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	if !testing.Short() {
		imsBinary = filepath.Join(dir, "ims")
		build := exec.Command("go", "build", "-o", imsBinary, "github.com/insiderone/ims/cmd/ims")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build ims:", err)
			_ = os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}
