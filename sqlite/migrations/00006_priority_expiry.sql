-- Priorities and expiry (issue 9). priority holds ims.Priority.Rank (0 high,
-- 1 normal, 2 low): claims order by it first, as an integer comparison.
-- expires_at (unix microseconds, like every time here) is NULL for a message
-- that never expires.
--
-- The status CHECK must admit 'expired', and SQLite cannot alter a CHECK:
-- the table is rebuilt by the procedure of https://sqlite.org/lang_altertable.html
-- (new table, copy, drop, rename, indexes), with foreign keys off so that
-- dropping the old table does not cascade to the delivery attempts. That
-- needs its own transaction outside goose's (PRAGMA foreign_keys is a no-op
-- inside one); the store's one write connection runs every statement here.
--
-- The due index leads with the rank so that a claim reads each priority's
-- due messages in order (see claimDueSQL). The expiry index serves the
-- sweeper; the age index serves retention of expired messages, purged like
-- dead ones.

-- +goose NO TRANSACTION
-- +goose Up
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE messages_new (
    id                  TEXT    PRIMARY KEY,
    phone_number        TEXT    NOT NULL,
    content             TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'canceled', 'expired')),
    idempotency_key     TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    -- When the message is due; while sending, the lease deadline.
    next_attempt_at     INTEGER NOT NULL,
    last_error          TEXT    NOT NULL DEFAULT '',
    provider_message_id TEXT    NOT NULL DEFAULT '',
    send_at             INTEGER,
    sent_at             INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    idempotency_scope   TEXT    NOT NULL DEFAULT '',
    priority            INTEGER NOT NULL DEFAULT 1,
    expires_at          INTEGER
);
INSERT INTO messages_new (id, phone_number, content, status, idempotency_key, attempts, next_attempt_at, last_error, provider_message_id, send_at, sent_at, created_at, updated_at, idempotency_scope) SELECT id, phone_number, content, status, idempotency_key, attempts, next_attempt_at, last_error, provider_message_id, send_at, sent_at, created_at, updated_at, idempotency_scope FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_due ON messages (priority, next_attempt_at, id) WHERE status IN ('pending', 'sending');
CREATE INDEX messages_status_id ON messages (status, id);
CREATE UNIQUE INDEX messages_idempotency_scope_key ON messages (idempotency_scope, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_sent_age ON messages (sent_at) WHERE status = 'sent';
CREATE INDEX messages_canceled_age ON messages (updated_at) WHERE status = 'canceled';
CREATE INDEX messages_dead_age ON messages (updated_at) WHERE status = 'dead';
CREATE INDEX messages_expiry ON messages (expires_at) WHERE status IN ('pending', 'sending') AND expires_at IS NOT NULL;
CREATE INDEX messages_priority_id ON messages (priority, id);
CREATE INDEX messages_expired_age ON messages (updated_at) WHERE status = 'expired';
COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
-- Expired messages have no status to go back to: they become dead, the
-- nearest terminal status, keeping their audit trail.
PRAGMA foreign_keys = OFF;
BEGIN;
UPDATE messages SET status = 'dead' WHERE status = 'expired';
CREATE TABLE messages_old (
    id                  TEXT    PRIMARY KEY,
    phone_number        TEXT    NOT NULL,
    content             TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'canceled')),
    idempotency_key     TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    -- When the message is due; while sending, the lease deadline.
    next_attempt_at     INTEGER NOT NULL,
    last_error          TEXT    NOT NULL DEFAULT '',
    provider_message_id TEXT    NOT NULL DEFAULT '',
    send_at             INTEGER,
    sent_at             INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    idempotency_scope   TEXT    NOT NULL DEFAULT ''
);
INSERT INTO messages_old (id, phone_number, content, status, idempotency_key, attempts, next_attempt_at, last_error, provider_message_id, send_at, sent_at, created_at, updated_at, idempotency_scope) SELECT id, phone_number, content, status, idempotency_key, attempts, next_attempt_at, last_error, provider_message_id, send_at, sent_at, created_at, updated_at, idempotency_scope FROM messages;
DROP TABLE messages;
ALTER TABLE messages_old RENAME TO messages;
CREATE INDEX messages_due ON messages (next_attempt_at, id) WHERE status IN ('pending', 'sending');
CREATE INDEX messages_status_id ON messages (status, id);
CREATE UNIQUE INDEX messages_idempotency_scope_key ON messages (idempotency_scope, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_sent_age ON messages (sent_at) WHERE status = 'sent';
CREATE INDEX messages_canceled_age ON messages (updated_at) WHERE status = 'canceled';
CREATE INDEX messages_dead_age ON messages (updated_at) WHERE status = 'dead';
COMMIT;
PRAGMA foreign_keys = ON;
