package main

// The real binary for the end-to-end tests: built once per run, run to
// completion (runCLI) or as a long-lived `ims serve` child process
// (startIMS) whose address is read from its log.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/testenv"
)

// builtBinary is the ims binary the process tests run. It is built once per
// test run, on first use, and shared by every test of the package (a
// package-level value on purpose: building it per test would cost a
// compilation each time). TestMain removes it.
var builtBinary binaryBuild

type binaryBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// imsBinary returns the path of the ims binary, building it on first use.
// It is built with -race when the tests are, which also lets it reuse the
// packages the test build has already compiled.
func imsBinary(t testing.TB) string {
	t.Helper()
	testenv.Integration(t, "the ims binary")
	b := &builtBinary
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "ims-e2e-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "ims")
		args := []string{"build", "-o", b.path}
		if raceEnabled() {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", append(args, ".")...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build ./cmd/ims: %w\n%s", err, out)
		}
	})
	require.NoError(t, b.err)
	return b.path
}

// remove deletes the built binary, if any.
func (b *binaryBuild) remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// cleanEnv is a minimal environment for the binary, so that nothing of the
// developer's environment (a DATABASE_URL, say) leaks into a test.
func cleanEnv(t testing.TB, extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, extra...)
}

// cliResult is what a short-lived run of the binary produced.
type cliResult struct {
	ExitCode       int
	Stdout, Stderr string
}

// runCLI runs the binary to completion in an empty directory (no .env)
// with env, bounded by timeout.
func runCLI(t *testing.T, env []string, timeout time.Duration, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, imsBinary(t), args...)
	cmd.Dir, cmd.Env = t.TempDir(), env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "ims %v did not finish within %s; stderr:\n%s", args, timeout, stderr.String())
	res := cliResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run ims %v: %v", args, err)
	}
	return res
}

// imsProcess is `ims serve` running as a child process, with an API client
// at its address.
type imsProcess struct {
	*apiClient
	Config config.Config

	cmd      *exec.Cmd
	logs     *processLog
	exited   chan struct{}
	exitCode int
}

// startIMS runs `ims serve` configured by cfg (on port 0, logging JSON so
// that the test can read the address it listens on) and waits until it
// serves. The process is killed, if still running, when t ends.
func startIMS(t *testing.T, cfg config.Config) *imsProcess {
	t.Helper()
	cfg.ServerPort, cfg.LogFormat = 0, "json"
	p := &imsProcess{Config: cfg, exited: make(chan struct{})}
	p.logs = newProcessLog(t, "ims serve "+cfg.InstanceID)
	p.cmd = exec.Command(imsBinary(t), "serve")
	p.cmd.Dir, p.cmd.Env = t.TempDir(), cleanEnv(t, configEnv(cfg)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(t, p.cmd.Start())
	go func() {
		defer close(p.exited)
		_ = p.cmd.Wait()
		p.exitCode = p.cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})

	select {
	case addr := <-p.logs.addr:
		p.apiClient = newAPIClient(t, "http://"+addr, cfg.APIKey)
	case <-p.exited:
		t.Fatalf("ims serve exited with code %d before serving", p.exitCode)
	case <-time.After(waitTimeout):
		t.Fatalf("ims serve did not report its address within %s", waitTimeout)
	}
	return p
}

// signal sends sig to the process.
func (p *imsProcess) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
}

// kill9 kills the process with SIGKILL, as a crash would, and waits for it.
func (p *imsProcess) kill9(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	p.wait(t)
}

// wait waits for the process to exit and returns its exit code.
func (p *imsProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.exitCode
	case <-time.After(waitTimeout):
		t.Fatalf("ims serve did not exit within %s", waitTimeout)
		return -1
	}
}

// waitLeader waits until this process leads the fleet, i.e. its scheduler
// is the one that dispatches.
func (p *imsProcess) waitLeader(t *testing.T) {
	t.Helper()
	eventually(t, "instance "+p.Config.InstanceID+" to lead", func() bool {
		return p.controlState(t).IsLeader
	})
}

// processLog keeps a process's output, shows it when the test fails, and
// reports the address from the "IMS is serving" log line.
type processLog struct {
	logBuffer
	partial []byte
	addr    chan string
}

func newProcessLog(t testing.TB, name string) *processLog {
	l := &processLog{addr: make(chan string, 1)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", name, l.String())
		}
	})
	return l
}

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.scan(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
}

func (l *processLog) scan(line []byte) {
	var rec struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(line, &rec) == nil && rec.Msg == "IMS is serving" && rec.Addr != "" {
		select {
		case l.addr <- rec.Addr:
		default:
		}
	}
}

func (l *processLog) String() string { return l.logBuffer.String() }
