package scheduler

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// recordingObserver writes every event it gets to a shared log.
type recordingObserver struct {
	name string
	log  *[]string
}

func (r recordingObserver) add(event string) { *r.log = append(*r.log, r.name+" "+event) }
func (r recordingObserver) Claimed(n int)    { r.add(fmt.Sprintf("claimed %d", n)) }
func (r recordingObserver) Delivered(out ims.Outcome) {
	r.add("delivered " + out.Claim.MessageID)
}
func (r recordingObserver) Recorded(n int, _ time.Duration, err error) {
	r.add(fmt.Sprintf("recorded %d %v", n, err))
}
func (r recordingObserver) StaleClaim() { r.add("stale") }

func TestObserversFanOutInOrder(t *testing.T) {
	t.Parallel()
	var log []string
	obs := Observers(recordingObserver{"a", &log}, recordingObserver{"b", &log})
	obs.Claimed(2)
	obs.Delivered(ims.Outcome{Claim: ims.Claim{MessageID: "m-1"}})
	obs.Recorded(1, time.Millisecond, errors.New("boom"))
	obs.StaleClaim()
	require.Equal(t, []string{
		"a claimed 2", "b claimed 2",
		"a delivered m-1", "b delivered m-1",
		"a recorded 1 boom", "b recorded 1 boom",
		"a stale", "b stale",
	}, log)
}
