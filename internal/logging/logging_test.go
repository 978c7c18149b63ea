package logging

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOrDiscard(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	given := slog.New(slog.NewTextHandler(&buf, nil))
	require.Same(t, given, OrDiscard(given))

	l := OrDiscard(nil)
	require.NotNil(t, l)
	require.NotSame(t, slog.Default(), l, "never the process-wide logger")
	require.False(t, l.Enabled(t.Context(), slog.LevelError), "drops everything")
}
