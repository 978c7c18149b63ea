package ims

import "context"

// Webhook delivers one message. It never returns an error: every failure is
// described in the DeliveryResult, which the retry policy then judges.
//
// A Deliver whose context carries a hook from WithRequestSent calls it once
// the request has been handed to the operating system: from then on the
// call has started and cannot be taken back. A stop waits for exactly that
// moment (README, What a stop guarantees).
type Webhook interface {
	Deliver(ctx context.Context, m Message) DeliveryResult
}

type requestSentKey struct{}

// WithRequestSent returns ctx carrying sent, for a Webhook to call when the
// request of the delivery made with ctx has been sent. A Webhook may call it
// more than once (a request replayed on a new connection) or, if it cannot
// tell, never: the caller then takes the end of Deliver as the moment.
func WithRequestSent(ctx context.Context, sent func()) context.Context {
	return context.WithValue(ctx, requestSentKey{}, sent)
}

// RequestSentHook returns the hook WithRequestSent put in ctx, or nil.
func RequestSentHook(ctx context.Context) func() {
	sent, _ := ctx.Value(requestSentKey{}).(func())
	return sent
}
