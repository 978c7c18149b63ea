// Package rabbitmq implements ims.Queue on RabbitMQ with amqp091-go.
//
// The database stays the source of truth: an entry in the queue is only a
// claim (message id, attempt and lease deadline) that a consumer checks with
// DeliveryStore.RenewClaims before delivering. Losing an entry therefore never
// loses a message — its lease expires and the pacing leader claims it again —
// while a duplicate entry is dropped by the fencing check. Retries of failed
// webhook calls are scheduled in the database, never in RabbitMQ.
//
// # Topology
//
// With the default prefix "ims", New declares (idempotently, and again after
// every reconnection):
//
//	ims.work          direct exchange, durable; claims are published here
//	ims.deliveries    work queue (quorum by default), durable, bound to
//	                  ims.work with routing key "ims.deliveries";
//	                  x-dead-letter-exchange=ims.dead and, for quorum
//	                  queues, x-delivery-limit
//	ims.dead          fanout dead-letter exchange, durable
//	ims.dead-letters  dead-letter queue bound to ims.dead
//
// An entry reaches the dead-letter queue when its body cannot be parsed, or
// when a quorum queue has redelivered it more than DeliveryLimit times (a
// failed handler and a consumer lost with the entry unacknowledged both
// count). The latter loses nothing: the message stays "sending" in the
// database until its lease expires, and is then claimed and published again.
// Dead-lettered entries are kept for inspection only; nothing replays them.
//
// # Body format
//
// Each entry is a persistent message with content type application/json, the
// message id as its message-id property, and a small JSON body:
//
//	{"message_id":"<uuid>","attempt":3,"lease_until":"2025-01-02T15:04:05.123456Z"}
//
// message_id (non-empty string) and attempt (integer ≥ 0) are required;
// lease_until (RFC 3339 with nanoseconds) is present when the claim carries a
// lease deadline. Unknown fields are ignored so that the format can grow.
//
// # Reliability
//
// Publish uses publisher confirms and returns nil only once every entry of the
// batch is confirmed. Consume acknowledges manually, after the handler has
// returned nil, with a bounded number of handlers in flight. One supervisor
// goroutine redials with backoff when the connection drops, or when the broker
// was unreachable at New (a broker that refuses — credentials, conflicting
// topology — fails New instead); Publish fails fast while it is down and
// Consume resubscribes by itself when it is back.
package rabbitmq
