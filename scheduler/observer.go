package scheduler

import (
	"time"

	"github.com/insiderone/ims"
)

// Observer receives the engine's events, for metrics. Calls must be cheap
// and must not block: they run on the delivery path.
type Observer interface {
	Claimed(n int)
	Delivered(r ims.DeliveryResult, d ims.Decision)
	Recorded(n int, took time.Duration, err error)
	StaleClaim()
}

type nopObserver struct{}

func (nopObserver) Claimed(int)                                {}
func (nopObserver) Delivered(ims.DeliveryResult, ims.Decision) {}
func (nopObserver) Recorded(int, time.Duration, error)         {}
func (nopObserver) StaleClaim()                                {}
