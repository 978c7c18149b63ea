package scheduler

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/insiderone/ims"
)

// handoff is how claimed messages reach the webhook in one queue mode: the
// dispatch loop claims (with lease, as much as reserve allows) and hands the
// claims over; the mode does the rest. New picks one from modes, once;
// nothing else in the scheduler names a mode.
type handoff interface {
	// lease is the lease claims are taken with.
	lease() time.Duration
	// reserve reserves room for up to want claims and says how many. 0
	// means claim nothing now: ctx has ended, or the mode has no room (more
	// may be due; the dispatch loop waits a moment and tries again).
	reserve(ctx context.Context, want int) int
	// unreserve gives back room reserved and not claimed.
	unreserve(n int)
	// handOver passes claimed messages on. It must not block on their
	// delivery; deliveries run on deliverCtx, which outlives ctx by up to
	// ShutdownTimeout.
	handOver(ctx, deliverCtx context.Context, msgs []ims.Message)
	// start starts the mode's own loops (with Scheduler.goLoop, so that the
	// shutdown waits for them) and returns what to call once they are done.
	start(ctx, deliverCtx context.Context) (stop func())
	// leaderClaims is true when only the leader may claim even without
	// pacing (a queue has one publisher, whose room accounting is local).
	leaderClaims() bool
	// commitsInFlight is how many outcome transactions the completer runs
	// at once: more than one only where deliveries wait for their commit.
	commitsInFlight() int
}

// Queue modes.
const (
	ModeDB       = ims.QueueModeDB
	ModeRabbitMQ = ims.QueueModeRabbitMQ
)

// modes builds the handoff of each queue mode: the one place that lists
// them. A new mode is a file with its handoff and a line here
// (handoff_inline_test.go is one); Modes hands the list on to the API's
// document.
var modes = map[string]func(s *Scheduler, deps Deps) (handoff, error){
	ModeDB:       newDBHandoff,
	ModeRabbitMQ: newQueueHandoff,
}

// Modes lists the queue modes the engine runs, sorted: the values
// LocalStatus().QueueMode can take, which the API documents.
func Modes() []string {
	return slices.Sorted(maps.Keys(modes))
}
