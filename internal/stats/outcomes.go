package stats

import (
	"fmt"
	"sync"
	"time"

	"github.com/insiderone/ims"
)

// Defaults for the zero values of OutcomesConfig.
const (
	DefaultWindowAttempts = 20
	DefaultWindowMaxAge   = 5 * time.Minute
	// RateWindow is the span the delivery rates are averaged over.
	RateWindow = time.Minute
)

// OutcomesConfig tunes Outcomes.
type OutcomesConfig struct {
	// WindowAttempts is how many of the latest attempts the webhook health
	// looks at. Zero means DefaultWindowAttempts.
	WindowAttempts int
	// WindowMaxAge drops attempts older than this from the window, so that
	// an old outage does not keep health degraded when nothing is sent.
	// Zero means DefaultWindowMaxAge.
	WindowMaxAge time.Duration
	Clock        ims.Clock
}

func (c OutcomesConfig) withDefaults() OutcomesConfig {
	if c.WindowAttempts <= 0 {
		c.WindowAttempts = DefaultWindowAttempts
	}
	if c.WindowMaxAge <= 0 {
		c.WindowMaxAge = DefaultWindowMaxAge
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

type attempt struct {
	at     time.Time
	failed bool
}

// rateBuckets is one counter per second of the rate window, each tagged with
// its second so a stale bucket is recognised and reset.
const rateBuckets = int(RateWindow / time.Second)

type bucket struct {
	second              int64
	sent, retried, dead int64
}

// Outcomes tracks this instance's recent webhook attempts: a sliding window
// for health and per-second buckets for rates. It is pure memory with an
// injected clock; Observe is cheap enough for the delivery path.
type Outcomes struct {
	cfg OutcomesConfig

	mu        sync.Mutex
	ring      []attempt // the latest WindowAttempts attempts, oldest overwritten
	next      int
	lastError string
	buckets   [rateBuckets]bucket
}

// NewOutcomes returns an empty tracker.
func NewOutcomes(cfg OutcomesConfig) *Outcomes {
	cfg = cfg.withDefaults()
	return &Outcomes{cfg: cfg, ring: make([]attempt, 0, cfg.WindowAttempts)}
}

// Observe records one decided delivery.
func (o *Outcomes) Observe(out ims.Outcome) {
	now := o.cfg.Clock()
	failed := !out.Result.Succeeded()
	o.mu.Lock()
	defer o.mu.Unlock()
	a := attempt{at: now, failed: failed}
	if len(o.ring) < cap(o.ring) {
		o.ring = append(o.ring, a)
	} else {
		o.ring[o.next] = a
		o.next = (o.next + 1) % len(o.ring)
	}
	if failed {
		o.lastError = Reason(out.Result)
	}
	b := o.bucket(now.Unix())
	switch out.Decision.Status {
	case ims.StatusSent:
		b.sent++
	case ims.StatusDead:
		b.dead++
	default:
		b.retried++
	}
}

// bucket returns the bucket of second sec, reset if it held an older one.
func (o *Outcomes) bucket(sec int64) *bucket {
	b := &o.buckets[int(sec%int64(rateBuckets)+int64(rateBuckets))%rateBuckets]
	if b.second != sec {
		*b = bucket{second: sec}
	}
	return b
}

// Webhook sums up the recent attempts: degraded when more than half of them
// failed, with the last error named.
func (o *Outcomes) Webhook() ims.WebhookHealth {
	now := o.cfg.Clock()
	o.mu.Lock()
	defer o.mu.Unlock()
	var h ims.WebhookHealth
	for _, a := range o.ring {
		if now.Sub(a.at) > o.cfg.WindowMaxAge {
			continue
		}
		h.Attempts++
		if a.failed {
			h.Failures++
		}
	}
	if h.Failures > 0 {
		h.LastError = o.lastError
	}
	h.Degraded = h.Failures*2 > h.Attempts
	switch {
	case h.Attempts == 0:
		h.Detail = "no delivery attempts in the last " + o.cfg.WindowMaxAge.String()
	case h.Failures == 0:
		h.Detail = fmt.Sprintf("%d of %d recent attempts succeeded", h.Attempts, h.Attempts)
	case h.Degraded:
		h.Detail = fmt.Sprintf("%d of %d recent attempts failed; last error: %s", h.Failures, h.Attempts, h.LastError)
	default:
		h.Detail = fmt.Sprintf("%d of %d recent attempts succeeded; last error: %s", h.Attempts-h.Failures, h.Attempts, h.LastError)
	}
	return h
}

// Rates returns the outcomes per second over the last RateWindow (the
// current, partial second included).
func (o *Outcomes) Rates() ims.DeliveryRates {
	now := o.cfg.Clock().Unix()
	o.mu.Lock()
	defer o.mu.Unlock()
	var sent, retried, dead int64
	for _, b := range o.buckets {
		if b.second > now-int64(rateBuckets) && b.second <= now {
			sent, retried, dead = sent+b.sent, retried+b.retried, dead+b.dead
		}
	}
	per := func(n int64) float64 { return float64(n) / RateWindow.Seconds() }
	return ims.DeliveryRates{Window: RateWindow, Delivered: per(sent), Retried: per(retried), Dead: per(dead)}
}
