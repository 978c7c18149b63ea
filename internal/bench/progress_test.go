package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProgress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines bool
		check func(t *testing.T, out string)
	}{
		{"a terminal gets a bar redrawn with a carriage return", false, func(t *testing.T, out string) {
			require.True(t, strings.HasPrefix(out, "\r["), "%q", out)
			require.True(t, strings.HasSuffix(out, "\n"), "%q", out)
		}},
		{"a log gets plain lines", true, func(t *testing.T, out string) {
			require.NotContains(t, out, "\r")
			require.True(t, strings.HasSuffix(out, "\n"), "%q", out)
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				require.True(t, strings.HasPrefix(line, "bench: loading: created 3/10, delivered 2 ("), "%q", line)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			require.NotContains(t, lines[len(lines)-1], "(0/s)", "the last line gives the average rate")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTracker(10)
			tr.created.Store(3)
			tr.delivered.Store(2)
			var buf bytes.Buffer
			p := startProgress(&buf, tt.lines, 10, tr, func() string { return "loading" })
			p.close() // draws the final state once
			tt.check(t, buf.String())
		})
	}
}
