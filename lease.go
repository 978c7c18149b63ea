package ims

import "time"

// LeaseFor is how long a claim holds for a webhook timeout: a little longer
// than the timeout (a quarter more, at least 5 s), so a delivery still in
// flight is never claimed by another worker.
//
// The formula is spelled once more, in words, where the README and the
// settings' error messages explain it: WEBHOOK_TIMEOUT + max(5s,
// WEBHOOK_TIMEOUT/4).
func LeaseFor(webhookTimeout time.Duration) time.Duration {
	return webhookTimeout + max(5*time.Second, webhookTimeout/4)
}

// DefaultHandoverLease is the least lease of a claim published to the queue
// and not yet picked up by a consumer (RABBITMQ_HANDOVER_LEASE's default).
// A consumer's renewal replaces it with the claim's lease.
const DefaultHandoverLease = 2 * time.Minute
