package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind (every
// in-process service, receiver and client must shut down completely), and
// removes the ims binary the process tests built.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(exitCode int) {
		builtBinary.remove()
		os.Exit(exitCode)
	}))
}
