package main

import (
	"fmt"

	"github.com/insiderone/ims"

	"github.com/insiderone/ims/internal/expiry"
)

// newExpiry builds the sweeper that moves messages past their expiry to
// expired. Like retention it runs on the leader only. The reason it gives
// reads the scheduler's state and its view of the circuit and the rate
// limiter, so a message held by an outage says circuit_open.
func (m *Main) newExpiry() (*expiry.Service, error) {
	s, err := expiry.New(expiry.Config{Actor: "expiry:" + m.Config.InstanceID}, expiry.Deps{
		Store:    m.store,
		IsLeader: func() bool { return m.sched.LocalStatus().IsLeader },
		Running:  func() bool { return m.sched.LocalStatus().Running },
		Circuit:  func() ims.Circuit { return m.sched.ProviderState().Circuit },
		Rate:     func() ims.RateState { return m.sched.ProviderState().Rate },
		Observer: m.metrics, Logger: m.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("expiry: %w", err)
	}
	return s, nil
}
