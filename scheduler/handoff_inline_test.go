package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// A pretend third queue mode, to keep the handoff interface honest: a mode
// is one file like this one and one line in modes (here in init, as a test
// must not add to the production map's source).
const modeInline = "inline"

func init() { modes[modeInline] = newInlineHandoff }

// inlineHandoff delivers each claim on the dispatch loop itself, one at a
// time: no pool, no queue.
type inlineHandoff struct{ s *Scheduler }

func newInlineHandoff(s *Scheduler, _ Deps) (handoff, error) { return inlineHandoff{s}, nil }

func (h inlineHandoff) lease() time.Duration                        { return h.s.cfg.Lease }
func (inlineHandoff) reserve(_ context.Context, want int) int       { return min(want, 1) }
func (inlineHandoff) unreserve(int)                                 {}
func (inlineHandoff) leaderClaims() bool                            { return false }
func (inlineHandoff) commitsInFlight() int                          { return 1 }
func (inlineHandoff) start(context.Context, context.Context) func() { return func() {} }

func (h inlineHandoff) handOver(_, deliverCtx context.Context, msgs []ims.Message) {
	for _, m := range msgs {
		if h.s.acquireWorker(deliverCtx) {
			h.s.work(deliverCtx, m)
			h.s.releaseWorker()
		} else {
			h.s.complete.release(m.Claim())
		}
	}
}

func TestAThirdModeNeedsOnlyItsHandoff(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Mode: modeInline, Interval: 0, BatchSize: 10, AutoStart: true})
	ids := b.create(t, "+905550000001", "+905550000002")
	b.run(t)
	for _, id := range ids {
		b.waitStatus(t, id, ims.StatusSent)
	}
	require.ElementsMatch(t, ids, b.hook.callIDs())
	require.Equal(t, modeInline, b.sched.LocalStatus().QueueMode)
}
