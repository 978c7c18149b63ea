package ims

import "context"

// Webhook delivers one message. It never returns an error: every failure is
// described in the DeliveryResult, which the retry policy then judges.
type Webhook interface {
	Deliver(ctx context.Context, m Message) DeliveryResult
}
