-- +goose Up

-- Batch items get the key "<key>#<i>", which a single create may also send:
-- each kind now has its own key space, so they can never meet. Existing rows
-- stay in the single-create space ('').
ALTER TABLE messages ADD COLUMN idempotency_scope text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX messages_idempotency_scope_key_idx ON messages (idempotency_scope, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
DROP INDEX messages_idempotency_key_idx;

-- Rows stored before send_at was bounded can hold a time outside the years
-- 0-9999 (e.g. "9999-12-31T23:59:59-23:59"), which no JSON answer can write,
-- so every answer holding them failed. A message due after year 9999 can
-- never be sent: it is canceled, with its audit event. Then each such time
-- is clamped to the nearest one an answer can hold.
INSERT INTO audit_events (type, message_id, actor, details, created_at)
SELECT 'message.canceled', id::text, 'migration:00002', 'send_at ' || send_at::text || ' lies after year 9999', now()
FROM messages WHERE status = 'pending' AND send_at >= '10000-01-01 00:00:00+00' ORDER BY id;
UPDATE messages SET status = 'canceled', updated_at = now()
WHERE status = 'pending' AND send_at >= '10000-01-01 00:00:00+00';
UPDATE messages SET send_at = '9999-12-31 23:59:59.999999+00' WHERE send_at >= '10000-01-01 00:00:00+00';
UPDATE messages SET next_attempt_at = '9999-12-31 23:59:59.999999+00' WHERE next_attempt_at >= '10000-01-01 00:00:00+00';
UPDATE messages SET send_at = '0001-01-01 00:00:00+00 BC' WHERE send_at < '0001-01-01 00:00:00+00 BC';
UPDATE messages SET next_attempt_at = '0001-01-01 00:00:00+00 BC' WHERE next_attempt_at < '0001-01-01 00:00:00+00 BC';

-- +goose Down
-- The clamped times and canceled messages stay as they are.
CREATE UNIQUE INDEX messages_idempotency_key_idx ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
DROP INDEX messages_idempotency_scope_key_idx;
ALTER TABLE messages DROP COLUMN idempotency_scope;
