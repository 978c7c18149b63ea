package ims

import "time"

// Clock tells the time. Production uses time.Now; tests inject a fixed clock.
type Clock func() time.Time

// LeaseFor is how long a claim holds for a webhook timeout: a little longer
// than the timeout (a quarter more, at least 5 s), so a delivery still in
// flight is never claimed by another worker.
func LeaseFor(webhookTimeout time.Duration) time.Duration {
	return webhookTimeout + max(5*time.Second, webhookTimeout/4)
}
