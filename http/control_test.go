package http

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestControl(t *testing.T) {
	t.Parallel()
	b := setup(t)

	st := decode[map[string]any](t, b.do(t, request{method: "GET", path: "/api/control"}), http.StatusOK)
	require.Equal(t, false, st["running"])
	require.Equal(t, "2m0s", st["interval"])
	require.EqualValues(t, 2, st["batch_size"])
	require.Equal(t, "db", st["queue_mode"])

	w := b.do(t, request{method: "POST", path: "/api/control", body: `{"action": "start"}`,
		headers: map[string]string{RequestIDHeader: "req-start"}})
	st = decode[map[string]any](t, w, http.StatusOK)
	require.Equal(t, true, st["running"])
	require.Equal(t, "api:req-start", st["updated_by"])

	require.NotContains(t, st, "fleet", "a start does not wait for the fleet")

	st = decode[map[string]any](t, b.do(t, request{method: "POST", path: "/api/control", body: `{"action": "stop"}`}), http.StatusOK)
	require.Equal(t, false, st["running"])
	require.Equal(t, map[string]any{"version": float64(2), "confirmed": []any{"i-1"}, "timed_out": []any{"i-2"}}, st["fleet"],
		"a stop says which instances confirmed it")
}

func TestControlRejectsBadActions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name, body string
		accepted   bool // the answer lists the accepted actions
	}{
		{"unknown action", `{"action":"restart"}`, true},
		{"missing action", `{}`, true},
		{"wrong case", `{"action":"START"}`, true},
		{"wrong type", `{"action":1}`, false},
		{"unknown field", `{"action":"start","force":true}`, false},
		{"empty body", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := decode[apiError](t, b.do(t, request{method: "POST", path: "/api/control", body: tt.body}), http.StatusBadRequest)
			if tt.accepted {
				require.Equal(t, []any{"start", "stop"}, e.Details["accepted"])
			}
		})
	}
	st, err := b.sched.Status(t.Context())
	require.NoError(t, err)
	require.False(t, st.Running, "a rejected action must not change the scheduler")
}

func TestControlSchedulerErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sched.err = ims.Errorf(ims.EUNAVAILABLE, "database unavailable")
	e := decode[apiError](t, b.do(t, request{method: "POST", path: "/api/control", body: `{"action":"start"}`}), http.StatusServiceUnavailable)
	require.Equal(t, "database unavailable", e.Error)
}
