package ims

import "time"

// Stats is the overview GET /api/stats serves to the console. It is
// assembled from caches and in-memory counters only: serving it never runs a
// query, so any number of open consoles cost the database nothing.
type Stats struct {
	// Counts is the number of messages in each status, fleet-wide, as of
	// RefreshedAt (every status is present, zeros included).
	Counts map[Status]int64 `json:"counts"`
	// RefreshedAt is when Counts was counted; nil until the first count.
	RefreshedAt *time.Time `json:"refreshed_at"`
	// CountError says why the latest count failed; Counts then holds the
	// previous one.
	CountError string          `json:"count_error,omitempty"`
	Rates      DeliveryRates   `json:"rates"`
	Webhook    WebhookHealth   `json:"webhook"`
	Scheduler  SchedulerStatus `json:"scheduler"`
}

// DeliveryRates are this instance's delivery outcomes per second, averaged
// over the last Window.
type DeliveryRates struct {
	Window    time.Duration `json:"-"`
	Delivered float64       `json:"delivered_per_second"`
	Retried   float64       `json:"retried_per_second"`
	Dead      float64       `json:"dead_per_second"`
}

// WebhookHealth sums up this instance's recent webhook attempts.
type WebhookHealth struct {
	// Degraded is true when most of the recent attempts failed.
	Degraded bool `json:"degraded"`
	// Detail is one sentence for people, naming the last error.
	Detail string `json:"detail"`
	// LastError is the reason of the latest failed attempt ("HTTP 401",
	// "timeout", ...), empty when none failed recently.
	LastError string `json:"last_error,omitempty"`
	Attempts  int    `json:"recent_attempts"`
	Failures  int    `json:"recent_failures"`
}
