package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestE2EConsoleStream: the console's stream carries the running service's
// figures, and an open stream does not hold the graceful shutdown up (Close
// would report SHUTDOWN_TIMEOUT).
func TestE2EConsoleStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend, harnessOptions{})
	m := h.createMessage(t, phoneA, "counted by the console")
	h.waitStatus(t, m.ID, "sent")

	req, err := http.NewRequestWithContext(t.Context(), "GET", h.BaseURL+"/api/console/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+h.APIKey)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	r := bufio.NewReader(res.Body)
	eventually(t, "a snapshot that counts the sent message and its delivery", func() bool {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: ")
		if !ok {
			return false
		}
		var snap struct {
			Counts map[string]int64 `json:"counts"`
			Series struct {
				Delivered []float64 `json:"delivered_per_second"`
			} `json:"series"`
			Scheduler struct {
				Instance string `json:"instance"`
			} `json:"scheduler"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &snap))
		require.Equal(t, h.Config.InstanceID, snap.Scheduler.Instance)
		var delivered float64
		for _, v := range snap.Series.Delivered {
			delivered += v
		}
		return snap.Counts["sent"] == 1 && delivered > 0
	})

	h.stop(t) // fails the test if the shutdown ran into SHUTDOWN_TIMEOUT
	_, err = io.Copy(io.Discard, r)
	require.NoError(t, err, "the stream ended cleanly with the server")
}
