-- Batch items get the key "<key>#<i>", which a single create may also send:
-- each kind now has its own key space, so they can never meet. Existing rows
-- stay in the single-create space ('').
-- +goose Up
ALTER TABLE messages ADD COLUMN idempotency_scope text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX messages_idempotency_scope_key_idx ON messages (idempotency_scope, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
DROP INDEX messages_idempotency_key_idx;

-- +goose Down
CREATE UNIQUE INDEX messages_idempotency_key_idx ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
DROP INDEX messages_idempotency_scope_key_idx;
ALTER TABLE messages DROP COLUMN idempotency_scope;
