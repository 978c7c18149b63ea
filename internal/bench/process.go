package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/insiderone/ims/client"
)

// Keys the IMS process runs with. They only protect a loopback port for the
// length of a run.
const (
	benchAPIKey     = "bench-api-key"
	benchWebhookKey = "bench-webhook-key"
)

const (
	// readyTimeout bounds start-up, migrations included.
	readyTimeout = 60 * time.Second
	// stopTimeout bounds a graceful shutdown before the process is killed;
	// it exceeds the SHUTDOWN_TIMEOUT the process is given.
	stopTimeout = 20 * time.Second
)

// managedEnv are the prefixes of every setting IMS reads. They are removed
// from the inherited environment so that a developer's own DATABASE_URL or
// REDIS_URL cannot leak into a run and change what is measured.
var managedEnv = []string{
	"DATABASE_URL=", "SQLITE_PATH=", "WEBHOOK_", "API_KEY=", "SERVER_PORT=", "MESSAGE_MAX_LENGTH=",
	"SCHEDULER_", "WORKER_CONCURRENCY=", "POLL_INTERVAL=", "LEADER_TTL=", "SHUTDOWN_TIMEOUT=",
	"INSTANCE_ID=", "RABBITMQ_", "REDIS_", "LOG_LEVEL=", "LOG_FORMAT=",
}

// imsProcess is one running `ims serve`.
type imsProcess struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	logPath string
	exited  chan struct{}
	waitErr error
}

// serveEnv is the process's configuration: what the run prepared (database,
// queue) plus the scheduler settings under test.
func serveEnv(cfg Config, prepared map[string]string, webhookURL string, port int, autoStart bool) []string {
	env := map[string]string{
		"WEBHOOK_URL": webhookURL, "WEBHOOK_AUTH_KEY": benchWebhookKey, "API_KEY": benchAPIKey,
		"SERVER_PORT":          strconv.Itoa(port),
		"SCHEDULER_INTERVAL":   cfg.Interval.String(),
		"SCHEDULER_BATCH_SIZE": strconv.Itoa(cfg.BatchSize),
		"WORKER_CONCURRENCY":   strconv.Itoa(cfg.Concurrency),
		"SCHEDULER_AUTO_START": strconv.FormatBool(autoStart),
		// Injected failures are retried quickly and (practically) never
		// dead-lettered, so a run with -failure-rate still ends with every
		// message delivered, and a missing one is a real loss.
		"WEBHOOK_MAX_RETRIES": "100", "WEBHOOK_RETRY_BASE_DELAY": "50ms", "WEBHOOK_RETRY_MAX_DELAY": "1s",
		"WEBHOOK_TIMEOUT": "10s", "SHUTDOWN_TIMEOUT": "10s",
		"INSTANCE_ID": "bench", "LOG_LEVEL": "warn", "LOG_FORMAT": "text",
	}
	for k, v := range prepared {
		env[k] = v
	}
	for _, kv := range cfg.ServeEnv {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	out := make([]string, 0, len(os.Environ())+len(env))
	for _, kv := range os.Environ() {
		if !managed(kv) {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func managed(kv string) bool {
	for _, p := range managedEnv {
		if strings.HasPrefix(kv, p) {
			return true
		}
	}
	return false
}

// startIMS runs `ims serve` in dir (so no stray .env is read) and waits
// until its health endpoint answers.
func startIMS(ctx context.Context, bin, dir string, env func(port int) []string) (*imsProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &imsProcess{base: "http://127.0.0.1:" + strconv.Itoa(port), logPath: filepath.Join(dir, "ims.log"),
		exited: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, fmt.Errorf("create IMS log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	p.cmd = exec.Command(bin, "serve", "-env-file", filepath.Join(dir, "no.env"))
	p.cmd.Dir, p.cmd.Env = dir, env(port)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx); err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("%w\nIMS log:\n%s", err, p.logTail(20))
	}
	return p, nil
}

// freePort asks the kernel for a free port. IMS listens on SERVER_PORT and
// cannot report a port of its choosing to another process, so the bench
// picks one; the gap until IMS binds it is a few milliseconds.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (p *imsProcess) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	c, err := client.New(p.base, client.WithHTTPClient(hc))
	if err != nil {
		return fmt.Errorf("health client: %w", err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// Ready is a 200: ok or degraded. Anything else, or no answer yet,
		// is asked again.
		if _, err := c.Health(ctx); err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("IMS exited during start-up: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("IMS not ready within %s: %w", readyTimeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// stop asks for a graceful shutdown (SIGTERM), and kills the process if it
// takes longer than stopTimeout.
func (p *imsProcess) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal IMS: %w", err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("IMS did not stop within %s of SIGTERM; killed", stopTimeout)
	}
}

// peakRSS is the process's peak resident set (VmHWM), 0 when unknown.
func (p *imsProcess) peakRSS() int64 { return peakRSS(strconv.Itoa(p.cmd.Process.Pid)) }

// logTail returns the last n lines of the IMS log, for error reports.
func (p *imsProcess) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// peakRSS reads VmHWM from /proc/<pid>/status (pid "self" for this
// process), in bytes; 0 where /proc does not exist.
func peakRSS(pid string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
