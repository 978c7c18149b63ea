package ims_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGuardDeletionsStillApply runs scripts/guard-deletions.sh in its dry
// mode: each deletion it makes must still change its file. The deletions
// are text substitutions on the code; an edit that rewords a guard (the
// claim's floored range did) silently turns its line into "did not apply",
// and the guard is no longer proven by its test. The script checks out HEAD,
// so this checks the committed code; it is skipped outside a git checkout.
func TestGuardDeletionsStillApply(t *testing.T) {
	t.Parallel()
	if err := exec.Command("git", "rev-parse", "--verify", "HEAD").Run(); err != nil {
		t.Skip("not a git checkout with a commit: the script checks out HEAD")
	}
	cmd := exec.Command("bash", "scripts/guard-deletions.sh")
	cmd.Env = append(cmd.Environ(), "DRY=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var guards int
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "Preparing worktree") {
			continue
		}
		guards++
		require.Contains(t, line, " applies ", "every guard's deletion must still apply")
	}
	require.GreaterOrEqual(t, guards, 19, "the script lists its guards:\n%s", out)
}
