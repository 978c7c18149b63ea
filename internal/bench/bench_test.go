package bench

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims/internal/testenv"
)

// tinyN keeps every run of the harness a second or two: these tests prove
// that the harness works and that IMS neither loses nor duplicates, not how
// fast anything is.
const tinyN = 200

func TestRun(t *testing.T) {
	testenv.Integration(t, "the ims binary")
	tests := []struct {
		name  string
		setup func(t *testing.T, c *Config)
		check func(t *testing.T, r *Result)
	}{
		{name: "sqlite, api, with raw ceiling", setup: func(t *testing.T, c *Config) { c.Raw = true },
			check: func(t *testing.T, r *Result) {
				require.NotNil(t, r.Raw)
				require.EqualValues(t, tinyN, r.Raw.Delivered)
				require.Zero(t, r.Raw.Duplicates)
				require.Positive(t, r.RatioToRaw)
			}},
		{name: "sqlite, bulk", setup: func(t *testing.T, c *Config) { c.Create, c.BulkSize = CreateBulk, 64 }},
		{name: "sqlite, steady rate", setup: func(t *testing.T, c *Config) { c.Rate = 400 },
			check: func(t *testing.T, r *Result) {
				require.Equal(t, "steady", r.Mode)
				require.Positive(t, r.LatencyMS.Max)
				require.LessOrEqual(t, r.LatencyMS.P50, r.LatencyMS.P99)
			}},
		{name: "sqlite, injected failures are retried, not lost", setup: func(t *testing.T, c *Config) { c.FailureRate = 0.2 },
			check: func(t *testing.T, r *Result) {
				require.Positive(t, r.FailuresInject)
				require.EqualValues(t, tinyN+r.FailuresInject, r.WebhookRequests)
			}},
		{name: "postgres, api", setup: func(t *testing.T, c *Config) {
			c.DB, c.DatabaseURL = DBPostgres, testenv.PostgresURL(t)
		}},
		{name: "postgres, rabbitmq", setup: func(t *testing.T, c *Config) {
			c.DB, c.DatabaseURL = DBPostgres, testenv.PostgresURL(t)
			c.Queue, c.RabbitMQURL = QueueRabbitMQ, testenv.RabbitMQURL(t)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Binary: imsBinary, N: tinyN, Clients: 8, Concurrency: 16, BatchSize: 50, Timeout: 3 * time.Minute}
			tt.setup(t, &cfg)
			res, err := Run(t.Context(), cfg)
			require.NoError(t, err)
			requireClean(t, res)
			requireSummaryParses(t, res)
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

// requireClean asserts the outcome a benchmark of IMS must always show:
// every message created, delivered once, nothing lost.
func requireClean(t *testing.T, r *Result) {
	t.Helper()
	require.EqualValues(t, tinyN, r.Created, "created")
	require.Zero(t, r.CreateErrors, "create errors: %s", r.Error)
	require.EqualValues(t, tinyN, r.Delivered, "delivered")
	require.Zero(t, r.Lost, "lost")
	require.Zero(t, r.Duplicates, "duplicates")
	require.Zero(t, r.Unknown, "unknown keys")
	require.False(t, r.TimedOut)
	require.Positive(t, r.DeliveredPerSec)
	require.Positive(t, r.CreatedPerSec)
}

func requireSummaryParses(t *testing.T, r *Result) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, r.WriteJSON(&buf))
	var back Result
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	require.Equal(t, *r, back)

	buf.Reset()
	require.NoError(t, r.WriteTable(&buf))
	for _, row := range []string{"delivered", "latency", "lost", "duplicates", "peak RSS"} {
		require.Contains(t, buf.String(), "\n"+row+" ")
	}
}

// TestCommand runs `ims bench` as a user would and parses its -json output.
func TestCommand(t *testing.T) {
	testenv.Integration(t, "the ims binary")
	t.Run("a tiny run succeeds and prints parsable JSON", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(t.Context(), imsBinary, "bench", "-n", "100", "-clients", "4", "-json", "-quiet")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
		var res Result
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), "stdout: %s", stdout.String())
		require.EqualValues(t, 100, res.Delivered)
		require.Zero(t, res.Lost)
		require.Zero(t, res.Duplicates)
		require.Equal(t, DBSQLite, res.DB)
	})
	t.Run("a bad flag fails with a message", func(t *testing.T) {
		out, err := exec.CommandContext(t.Context(), imsBinary, "bench", "-db", "mysql").CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		require.NotZero(t, exit.ExitCode())
		require.Contains(t, string(out), "db must be sqlite or postgres")
	})
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{"no binary", func(c *Config) { c.Binary = "" }, "binary"},
		{"unknown database", func(c *Config) { c.DB = "mysql" }, "db must be"},
		{"unknown queue", func(c *Config) { c.Queue = "kafka" }, "queue must be"},
		{"unknown create", func(c *Config) { c.Create = "csv" }, "create must be"},
		{"steady bulk", func(c *Config) { c.Create, c.Rate = CreateBulk, 10 }, "steady rate"},
		{"negative n", func(c *Config) { c.N = -1 }, "n must be"},
		{"failure rate of one", func(c *Config) { c.FailureRate = 1 }, "failure rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Binary: "ims"}
			tt.modify(&c)
			require.ErrorContains(t, c.withDefaults(), tt.want)
		})
	}
	t.Run("defaults", func(t *testing.T) {
		c := Config{Binary: "ims", Create: CreateBulk}
		require.NoError(t, c.withDefaults())
		require.Equal(t, DefaultBulkClients, c.Clients)
		require.Equal(t, DefaultN, c.N)
		require.Equal(t, "drain", c.Mode())
	})
}

func TestPacing(t *testing.T) {
	const interval = 2 * time.Minute
	at := func(d time.Duration) int64 { return int64(d) }
	tests := []struct {
		name     string
		receipts []int64
		want     Pacing
	}{
		{"on the grid", []int64{at(0), at(5 * time.Millisecond), at(interval), at(interval + time.Millisecond), at(2 * interval)},
			Pacing{Batches: 3, Sizes: []int{2, 2, 1}, OffsetsMS: []float64{0, 120000, 240000}, MaxDriftMS: 0, Exact: true}},
		{"drifting and uneven", []int64{at(0), at(time.Millisecond), at(interval + 30*time.Millisecond), at(2*interval + 70*time.Millisecond), at(2*interval + 71*time.Millisecond)},
			Pacing{Batches: 3, Sizes: []int{2, 1, 2}, OffsetsMS: []float64{0, 120030, 240070}, MaxDriftMS: 70, Exact: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, &tt.want, pacing(tt.receipts, interval, 2))
		})
	}
	t.Run("not paced", func(t *testing.T) { require.Nil(t, pacing([]int64{1}, 0, 2)) })
}

func TestPercentile(t *testing.T) {
	sorted := make([]int64, 100)
	for i := range sorted {
		sorted[i] = int64(i + 1)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {95, 95}, {99, 99}, {100, 100}, {0, 1}}
	for _, tt := range tests {
		t.Run("p"+strconv.FormatFloat(tt.p, 'f', -1, 64), func(t *testing.T) {
			require.Equal(t, tt.want, percentile(sorted, tt.p))
		})
	}
	t.Run("empty", func(t *testing.T) { require.Zero(t, percentile(nil, 99)) })
}

func TestDecileRates(t *testing.T) {
	t.Run("too few", func(t *testing.T) { require.Nil(t, decileRates(make([]int64, 999))) })
	t.Run("a constant pace then a slower one", func(t *testing.T) {
		receipts := make([]int64, 1000)
		for i := range receipts {
			step := int64(time.Millisecond)
			if i >= 500 {
				step = 2 * int64(time.Millisecond)
			}
			if i > 0 {
				receipts[i] = receipts[i-1] + step
			}
		}
		got := decileRates(receipts)
		require.Len(t, got, 10)
		require.InDelta(t, 1000, got[0], 0.001)
		require.InDelta(t, 500, got[9], 0.001)
	})
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -12345: "-12,345"} {
		t.Run(want, func(t *testing.T) { require.Equal(t, want, thousands(in)) })
	}
}

// TestServeEnvOverrides: -serve-env settings reach `ims serve` and win over
// the run's own, so a feature can be measured on and off.
func TestServeEnvOverrides(t *testing.T) {
	t.Parallel()
	cfg := Config{BatchSize: 10, Concurrency: 4, ServeEnv: []string{"WEBHOOK_RATE_LIMIT=500", "WORKER_CONCURRENCY=8", "bad"}}
	env := serveEnv(cfg, nil, "http://127.0.0.1:1/hook", 8080, false)
	require.Contains(t, env, "WEBHOOK_RATE_LIMIT=500")
	require.Contains(t, env, "WORKER_CONCURRENCY=8")
	require.NotContains(t, env, "WORKER_CONCURRENCY=4")
}
