package scheduler

import (
	"time"

	"github.com/insiderone/ims"
)

// Observer receives the engine's events, for metrics, health and logs.
// Calls must be cheap and must not block: they run on the delivery path.
type Observer interface {
	Claimed(n int)
	// Delivered receives every decided webhook attempt (the message, the
	// result and the decision), before it is stored.
	Delivered(out ims.Outcome)
	Recorded(n int, took time.Duration, err error)
	StaleClaim()
}

// Observers fans every event out to each of obs, in order.
func Observers(obs ...Observer) Observer { return multiObserver(obs) }

type multiObserver []Observer

func (m multiObserver) Claimed(n int) {
	for _, o := range m {
		o.Claimed(n)
	}
}

func (m multiObserver) Delivered(out ims.Outcome) {
	for _, o := range m {
		o.Delivered(out)
	}
}

func (m multiObserver) Recorded(n int, took time.Duration, err error) {
	for _, o := range m {
		o.Recorded(n, took, err)
	}
}

func (m multiObserver) StaleClaim() {
	for _, o := range m {
		o.StaleClaim()
	}
}

func (m multiObserver) CircuitChanged(change ims.CircuitChange) {
	for _, o := range m {
		if po, ok := o.(ProviderObserver); ok {
			po.CircuitChanged(change)
		}
	}
}

func (m multiObserver) Throttled() {
	for _, o := range m {
		if po, ok := o.(ProviderObserver); ok {
			po.Throttled()
		}
	}
}

type nopObserver struct{}

func (nopObserver) Claimed(int)                        {}
func (nopObserver) Delivered(ims.Outcome)              {}
func (nopObserver) Recorded(int, time.Duration, error) {}
func (nopObserver) StaleClaim()                        {}
