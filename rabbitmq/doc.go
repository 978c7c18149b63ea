// Package rabbitmq implements ims.Queue on RabbitMQ with amqp091-go.
//
// The database stays the source of truth: an entry in the queue is only a
// claim (message id, attempt and lease deadline) that a consumer checks with
// DeliveryStore.CheckClaims (an entry handed out for the first time) or
// RenewClaims (one redelivered: ims.Delivery.Redelivered) before delivering.
// Losing an entry therefore never loses a message — its lease expires and the
// pacing leader claims it again — while a duplicate entry is dropped by the
// fencing check. A handler's held context ends when the channel its entry
// came on is lost, which is when the broker may hand the entry to another
// consumer. Retries of failed webhook calls are scheduled in the database,
// never in RabbitMQ.
//
// # Topology
//
// With the default prefix "ims", New declares (idempotently, and again after
// every reconnection):
//
//	ims.work          direct exchange, durable; claims are published here
//	ims.claims        work queue (quorum by default), durable, bound to
//	                  ims.work with routing key "ims.claims";
//	                  x-dead-letter-exchange=ims.dead and, for quorum
//	                  queues, x-delivery-limit
//	ims.deliveries    the same, routing key "ims.deliveries": the work queue
//	                  of instances from before the claims format, which
//	                  publish to it and read only it; consumers read it too
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
// Publish packs a batch into entries of up to 16 claims (the broker's work is
// per entry: a quorum queue logs, confirms, delivers and settles each one).
// Each entry is a persistent message with content type
// application/vnd.ims.claims and a binary body, all numbers varints
// (encoding/binary):
//
//	0x01                      format version
//	uvarint n                 number of claims, ≥ 1
//	n × { uvarint len, len bytes message id (non-empty),
//	      uvarint attempt,
//	      varint lease_until in Unix nanoseconds, 0 when none }
//
// Consumers also read the format of older instances, a JSON claim per entry
// (content type application/json, found in ims.deliveries):
//
//	{"message_id":"<uuid>","attempt":3,"lease_until":"2025-01-02T15:04:05.123456Z"}
//
// A body not starting with the version byte is read as JSON. Rolling upgrade:
// an older instance reads only ims.deliveries, so it never receives an entry
// it cannot parse, and whatever it queued there is delivered by the newer
// ones.
//
// # Reliability
//
// Publish uses publisher confirms and returns nil only once every entry of the
// batch is confirmed. Consume acknowledges an entry manually, once the
// handler has returned nil for every claim in it (one failure requeues the
// whole entry; its claims already handled come back and are dropped as
// stale), with a bounded number of handlers in flight. One supervisor
// goroutine redials with backoff when the connection drops, or when the broker
// was unreachable at New (a broker that refuses — credentials, conflicting
// topology — fails New instead); Publish fails fast while it is down and
// Consume resubscribes by itself when it is back.
package rabbitmq
