-- +goose Up

-- Batch items get the key "<key>#<i>", which a single create may also send:
-- each kind now has its own key space, so they can never meet. Existing rows
-- stay in the single-create space ('').
ALTER TABLE messages ADD COLUMN idempotency_scope TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX messages_idempotency_scope_key ON messages (idempotency_scope, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
DROP INDEX messages_idempotency_key;

-- Rows stored before send_at was bounded can hold a time outside the years
-- 0-9999 (e.g. "9999-12-31T23:59:59-23:59"), which no JSON answer can write,
-- so every answer holding them failed. A message due after year 9999 can
-- never be sent: it is canceled, with its audit event. Then each such time
-- is clamped to the nearest one an answer can hold. Times are unix
-- microseconds: 253402300800000000 is year 10000, -62167219200000000 year 0.
INSERT INTO audit_events (type, message_id, actor, details, created_at)
SELECT 'message.canceled', id, 'migration:00002', 'send_at lies after year 9999', CAST(strftime('%s', 'now') AS INTEGER) * 1000000
FROM messages WHERE status = 'pending' AND send_at >= 253402300800000000 ORDER BY id;
UPDATE messages SET status = 'canceled', updated_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000000
WHERE status = 'pending' AND send_at >= 253402300800000000;
UPDATE messages SET send_at = 253402300799999999 WHERE send_at >= 253402300800000000;
UPDATE messages SET next_attempt_at = 253402300799999999 WHERE next_attempt_at >= 253402300800000000;
UPDATE messages SET send_at = -62167219200000000 WHERE send_at < -62167219200000000;
UPDATE messages SET next_attempt_at = -62167219200000000 WHERE next_attempt_at < -62167219200000000;

-- +goose Down
-- The clamped times and canceled messages stay as they are.
CREATE UNIQUE INDEX messages_idempotency_key ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
DROP INDEX messages_idempotency_scope_key;
ALTER TABLE messages DROP COLUMN idempotency_scope;
