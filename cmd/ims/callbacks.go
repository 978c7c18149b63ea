package main

import (
	"context"
	"fmt"
	"time"

	"github.com/insiderone/ims"
	imshttp "github.com/insiderone/ims/http"
	"github.com/insiderone/ims/internal/callbacks"
	"github.com/insiderone/ims/metrics"
)

// newCallbacks stores STATUS_CALLBACK_URL as the fleet's default (the
// outbox trigger reads it) and builds the dispatcher every instance runs,
// with the webhook's backoff and STATUS_CALLBACK_MAX_RETRIES.
func (m *Main) newCallbacks(ctx context.Context) error {
	cfg := m.Config
	if err := m.store.SetStatusCallbackURL(ctx, cfg.StatusCallbackURL); err != nil {
		return fmt.Errorf("status callbacks: %w", err)
	}
	sender, err := callbacks.NewHTTPSender(cfg.StatusCallbackSecret, callbackTimeout)
	if err != nil {
		return err
	}
	m.callbackSender = sender
	var d *callbacks.Dispatcher
	m.reports = metrics.NewReports(m.metrics, func() map[ims.CallbackState]int64 { return d.Status().Counts })
	d, err = callbacks.New(callbacks.Config{
		Retry:   ims.RetryPolicy{MaxRetries: cfg.StatusCallbackMaxRetries, BaseDelay: cfg.RetryBaseDelay, MaxDelay: cfg.RetryMaxDelay},
		Timeout: callbackTimeout, ParkTTL: cfg.DLRParkTTL, Actor: "callbacks:" + cfg.InstanceID,
	}, callbacks.Deps{Store: m.store, Sender: sender, Observer: m.reports, Logger: m.Logger})
	if err != nil {
		return fmt.Errorf("status callbacks: %w", err)
	}
	m.callbacks = d
	if cfg.StatusCallbackURL != "" {
		m.Logger.Info("status callbacks enabled", "url", ims.RedactURL(cfg.StatusCallbackURL),
			"signed", cfg.StatusCallbackSecret != "", "max_retries", cfg.StatusCallbackMaxRetries)
	}
	if cfg.DLRAuthKey == "" {
		m.Logger.Info("delivery reports are off (POST /api/delivery-reports answers 503): set DLR_AUTH_KEY to enable them")
	}
	return nil
}

// callbackTimeout bounds one status callback call.
const callbackTimeout = 10 * time.Second

// callbacksHealth is the callbacks component of /api/health: optional,
// degraded while calls fail.
func (m *Main) callbacksHealth() imshttp.HealthCheck {
	return imshttp.HealthCheck{Name: "callbacks", Required: false, Check: func(context.Context) (string, error) {
		detail, degraded := m.callbacks.Status().Health()
		if degraded {
			return "", imshttp.Degraded(detail)
		}
		return detail, nil
	}}
}
