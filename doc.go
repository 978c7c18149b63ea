// Package ims holds the domain of IMS, the Insider Message Sender: the message
// model, its lifecycle rules (states, transitions, retry policy), the error type
// every layer speaks, and the small interfaces the domain needs from the outside
// world (storage, webhook, queue, cache).
//
// This package does no I/O. Adapters live in packages named after what they wrap
// (postgres, sqlite, rabbitmq, redis, http, webhook) and depend on this one,
// never the other way round; cmd/ims wires them together.
package ims
