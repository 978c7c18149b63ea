package main

import (
	"fmt"

	"github.com/insiderone/ims/internal/retention"
)

// newRetention builds the purge of expired data (RETENTION_*). It asks the
// scheduler whether this instance leads, so only one instance purges.
func (m *Main) newRetention() (*retention.Service, error) {
	cfg := m.Config
	s, err := retention.New(retention.Config{
		Sent: cfg.RetentionSent, Dead: cfg.RetentionDead, Audit: cfg.RetentionAudit,
		Actor: "retention:" + cfg.InstanceID,
	}, retention.Deps{
		Store: m.store, IsLeader: func() bool { return m.sched.LocalStatus().IsLeader },
		Observer: m.metrics, Logger: m.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	return s, nil
}
