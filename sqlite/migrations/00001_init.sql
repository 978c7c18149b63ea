-- Times are INTEGER unix microseconds (UTC). IDs are UUIDv7 text, which sorts
-- in creation order, so "ORDER BY id DESC" is newest first.

-- +goose Up
CREATE TABLE messages (
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
    updated_at          INTEGER NOT NULL
);

-- Claiming reads only this small index, however many final messages there are.
CREATE INDEX messages_due ON messages (next_attempt_at, id) WHERE status IN ('pending', 'sending');
CREATE UNIQUE INDEX messages_idempotency_key ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_status_id ON messages (status, id);

CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY,
    message_id  TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    latency_us  INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    response    TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_message ON delivery_attempts (message_id, id);

-- AUTOINCREMENT so that an ID is never reused: IDs are the audit list's cursor.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT    NOT NULL,
    message_id TEXT,
    actor      TEXT    NOT NULL DEFAULT '',
    details    TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_events_message ON audit_events (message_id, id);
CREATE INDEX audit_events_type ON audit_events (type, id);
CREATE INDEX audit_events_created_at ON audit_events (created_at);

CREATE TABLE scheduler_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    running    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE leader_lease (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE leader_lease;
DROP TABLE scheduler_state;
DROP TABLE audit_events;
DROP TABLE delivery_attempts;
DROP TABLE messages;
