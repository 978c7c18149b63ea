package sink

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const body = `{"to":"+905551112233","content":"hello"}`

// request builds a webhook POST with the given key and auth key ("" leaves
// the header out).
func request(t testing.TB, key, authKey, payload string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(payload))
	r.Header.Set("Content-Type", "application/json")
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	if authKey != "" {
		r.Header.Set("x-ins-auth-key", authKey)
	}
	return r
}

// call sends r straight to the handler and returns the recorded answer.
func call(s *Sink, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestAcceptsLikeTheProvider(t *testing.T) {
	t.Parallel()
	s := New(Config{KeepDeliveries: true})

	w := call(s, request(t, "key-1", "", body))
	require.Equal(t, http.StatusAccepted, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var answer struct{ Message, MessageID string }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &answer))
	require.Equal(t, "Accepted", answer.Message)
	_, err := uuid.Parse(answer.MessageID)
	require.NoError(t, err, "messageId is a UUID")

	got := s.Received("key-1")
	require.Len(t, got, 1)
	require.Equal(t, "key-1", got[0].Key)
	require.Equal(t, "+905551112233", got[0].To)
	require.Equal(t, "hello", got[0].Content)
	require.Equal(t, http.StatusAccepted, got[0].Status)
	require.Equal(t, answer.MessageID, got[0].MessageID)
	require.Equal(t, uint64(1), got[0].Seq)
	require.Empty(t, s.Received("other-key"))
}

func TestReceivedIsEmptyWithoutKeepDeliveries(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	require.Equal(t, http.StatusAccepted, call(s, request(t, "key-1", "", body)).Code)
	require.Empty(t, s.Received("key-1"))
	require.Equal(t, int64(1), s.Stats().UniqueAccepted)
}

func TestStatsCountDuplicatesPerKey(t *testing.T) {
	t.Parallel()
	type req struct {
		key    string
		status int
	}
	tests := []struct {
		name string
		reqs []req
		want Stats
	}{
		{
			name: "one accept per key is no duplicate",
			reqs: []req{{"a", 202}, {"b", 202}},
			want: Stats{Received: 2, Accepted: 2, UniqueKeys: 2, UniqueAccepted: 2, ByStatus: map[int]int64{202: 2}},
		},
		{
			name: "every accept beyond the first is a duplicate",
			reqs: []req{{"a", 202}, {"a", 202}, {"a", 200}, {"b", 202}},
			want: Stats{Received: 4, Accepted: 4, UniqueKeys: 2, UniqueAccepted: 2, Duplicates: 2, ByStatus: map[int]int64{200: 1, 202: 3}},
		},
		{
			name: "retries after failures are not duplicates",
			reqs: []req{{"a", 500}, {"a", 0}, {"a", 202}},
			want: Stats{Received: 3, Accepted: 1, UniqueKeys: 1, UniqueAccepted: 1, ByStatus: map[int]int64{0: 1, 202: 1, 500: 1}},
		},
		{
			name: "requests without a key are counted apart",
			reqs: []req{{"", 202}, {"", 202}},
			want: Stats{Received: 2, Accepted: 2, MissingKey: 2, ByStatus: map[int]int64{202: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(Config{})
			for _, r := range tt.reqs {
				s.counts.received.Add(1) // serveWebhook's count, bypassed here
				s.record(Delivery{Key: r.key, Status: r.status})
			}
			require.Equal(t, tt.want, s.Stats())
		})
	}
}

func TestDuplicatesOverHTTP(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	for _, key := range []string{"a", "a", "b", "a"} {
		require.Equal(t, http.StatusAccepted, call(s, request(t, key, "", body)).Code)
	}
	st := s.Stats()
	require.Equal(t, int64(2), st.Duplicates)
	require.Equal(t, int64(2), st.UniqueKeys)
}

func TestFaultInjectionIsSeededAndNearTheRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cfg         Config
		wantFail    int64
		wantTimeout int64
	}{
		{name: "no faults", cfg: Config{Seed: 42}},
		{name: "30% failures", cfg: Config{Seed: 42, FailureRate: 0.3, FailStatus: 503}},
		{name: "all failures", cfg: Config{Seed: 7, FailureRate: 1}},
	}
	const n = 2000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := func() ([]int, Stats) {
				s := New(tt.cfg)
				codes := make([]int, n)
				for i := range codes {
					codes[i] = call(s, request(t, "k"+strconv.Itoa(i), "", body)).Code
				}
				return codes, s.Stats()
			}
			codes, st := run()
			again, _ := run()
			require.Equal(t, codes, again, "the same seed gives the same fates")

			failStatus := max(tt.cfg.FailStatus, 0)
			if failStatus == 0 {
				failStatus = DefaultFailStatus
			}
			want := tt.cfg.FailureRate * n
			require.InDelta(t, want, float64(st.FailuresInjected), 0.05*n, "failures near the rate")
			require.Equal(t, st.FailuresInjected, st.ByStatus[failStatus])
			require.Equal(t, int64(n)-st.FailuresInjected, st.Accepted)
		})
	}
}

func TestFatesFollowTheRates(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 1, FailureRate: 0.2, TimeoutRate: 0.1})
	var counts [3]int
	const n = 100_000
	for seq := range uint64(n) {
		counts[s.fate(seq+1)]++
	}
	require.InDelta(t, 0.7*n, counts[fateAccept], 0.01*n)
	require.InDelta(t, 0.2*n, counts[fateFail], 0.01*n)
	require.InDelta(t, 0.1*n, counts[fateHang], 0.01*n)
}

func TestInjectedFailureSendsRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{name: "429 rounds up to seconds", status: 429, want: "2"},
		{name: "503", status: 503, want: "2"},
		{name: "500 has none", status: 500, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(Config{FailureRate: 1, FailStatus: tt.status, RetryAfter: 1500 * time.Millisecond})
			w := call(s, request(t, "k", "", body))
			require.Equal(t, tt.status, w.Code)
			require.Equal(t, tt.want, w.Header().Get("Retry-After"))
		})
	}
}

func TestAuthKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		required string
		sent     string
		want     int
	}{
		{name: "right key", required: "secret", sent: "secret", want: 202},
		{name: "wrong key", required: "secret", sent: "guess", want: 401},
		{name: "missing key", required: "secret", sent: "", want: 401},
		{name: "no key required", required: "", sent: "anything", want: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(Config{AuthKey: tt.required})
			require.Equal(t, tt.want, call(s, request(t, "k", tt.sent, body)).Code)
			st := s.Stats()
			require.Equal(t, int64(1), st.ByStatus[tt.want])
			if tt.want == 401 {
				require.Equal(t, int64(1), st.Unauthorized)
				require.Zero(t, st.UniqueAccepted)
			}
		})
	}
}

func TestRejectsBadBody(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	w := call(s, request(t, "k", "", "not json"))
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Equal(t, int64(1), s.Stats().BadRequests)
}

func TestLatencyIsAddedBeforeAnswering(t *testing.T) {
	t.Parallel()
	s := New(Config{Latency: 250 * time.Millisecond})
	var asked []time.Duration
	s.sleep = func(_ context.Context, d time.Duration) bool {
		asked = append(asked, d)
		return true
	}
	require.Equal(t, http.StatusAccepted, call(s, request(t, "k", "", body)).Code)
	require.Equal(t, []time.Duration{250 * time.Millisecond}, asked)
}

func TestHangs(t *testing.T) {
	t.Parallel()
	t.Run("until the max hang passes", func(t *testing.T) {
		t.Parallel()
		s := New(Config{TimeoutRate: 1, MaxHang: time.Millisecond})
		require.Equal(t, http.StatusGatewayTimeout, call(s, request(t, "k", "", body)).Code)
		require.Equal(t, int64(1), s.Stats().TimeoutsInjected)
	})
	t.Run("until the sink closes", func(t *testing.T) {
		t.Parallel()
		s := New(Config{TimeoutRate: 1, MaxHang: time.Hour})
		s.Close()
		s.Close() // idempotent
		require.Equal(t, http.StatusServiceUnavailable, call(s, request(t, "k", "", body)).Code)
	})
	t.Run("until the client gives up", func(t *testing.T) {
		t.Parallel()
		seen := make(chan Delivery, 1)
		s := New(Config{TimeoutRate: 1, MaxHang: time.Hour, OnDelivery: func(d Delivery) { seen <- d }})
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)

		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/hook", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Idempotency-Key", "k")
		_, err = srv.Client().Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)

		d := <-seen
		require.Zero(t, d.Status, "no answer was given")
		st := s.Stats()
		require.Equal(t, int64(1), st.ByStatus[0])
		require.Zero(t, st.Accepted)
	})
}

func TestServesStatsAndHealth(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	call(s, request(t, "a", "", body))
	call(s, request(t, "a", "", body))

	w := call(s, httptest.NewRequest(http.MethodGet, "/stats", nil))
	require.Equal(t, http.StatusOK, w.Code)
	var got map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, map[string]any{
		"received": 2.0, "accepted": 2.0, "unique_keys": 1.0, "unique_accepted": 1.0, "duplicates": 1.0,
		"failures_injected": 0.0, "timeouts_injected": 0.0, "unauthorized": 0.0, "bad_requests": 0.0,
		"missing_key": 0.0, "by_status": map[string]any{"202": 2.0},
	}, got)

	require.Equal(t, http.StatusOK, call(s, httptest.NewRequest(http.MethodGet, "/healthz", nil)).Code)
	require.Equal(t, http.StatusMethodNotAllowed, call(s, httptest.NewRequest(http.MethodPut, "/hook", nil)).Code)
}

func TestConcurrentDeliveriesAreAllCounted(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen int
	s := New(Config{OnDelivery: func(Delivery) { mu.Lock(); seen++; mu.Unlock() }})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/hook", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Idempotency-Key", strconv.Itoa(w*each+i))
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	require.Equal(t, int64(workers*each), st.UniqueAccepted)
	require.Zero(t, st.Duplicates)
	require.Equal(t, workers*each, seen)
}

func TestServeListenerReleasesHangsOnShutdown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	s := New(Config{TimeoutRate: 1, MaxHang: time.Hour})
	hanging := make(chan struct{})
	s.sleep = func(ctx context.Context, d time.Duration) bool {
		close(hanging)
		return s.wait(ctx, d)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, s, slog.New(slog.DiscardHandler)) }()

	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	answered := make(chan int, 1)
	go func() {
		resp, err := client.Post(base+"/hook", "application/json", strings.NewReader(body))
		if err != nil {
			answered <- -1
			return
		}
		_ = resp.Body.Close()
		answered <- resp.StatusCode
	}()

	<-hanging
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, http.StatusServiceUnavailable, <-answered, "a held request is released, not cut")
}

func TestServeRejectsBadConfig(t *testing.T) {
	t.Parallel()
	err := Serve(t.Context(), "127.0.0.1:0", Config{FailureRate: 0.8, TimeoutRate: 0.5}, slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "must not exceed 1")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		errText string
	}{
		{name: "zero is valid", cfg: Config{}},
		{name: "negative failure rate", cfg: Config{FailureRate: -0.1}, errText: "failure rate"},
		{name: "timeout rate over 1", cfg: Config{TimeoutRate: 1.5}, errText: "timeout rate"},
		{name: "rates sum over 1", cfg: Config{FailureRate: 0.6, TimeoutRate: 0.6}, errText: "exceed 1"},
		{name: "bad fail status", cfg: Config{FailStatus: 42}, errText: "fail status"},
		{name: "negative latency", cfg: Config{Latency: -time.Second}, errText: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.errText == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.errText)
		})
	}
}
