-- Delivery reports in, status callbacks out (issue 10, parts 4 and 5). The
-- same tables and triggers as PostgreSQL's 00009, which explains them; times
-- are unix microseconds as everywhere here. The statuses in messages_callback
-- are ims.CallbackStatuses; storetest checks each.

-- +goose Up
ALTER TABLE messages ADD COLUMN delivery_status TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN delivered_at INTEGER;
ALTER TABLE messages ADD COLUMN delivery_error_code TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN delivery_reported_at INTEGER;
ALTER TABLE messages ADD COLUMN callback_url TEXT NOT NULL DEFAULT '';

CREATE INDEX messages_provider_message_id ON messages (provider_message_id) WHERE provider_message_id <> '';
CREATE INDEX messages_delivery_status_id ON messages (delivery_status, id) WHERE delivery_status <> '';

CREATE TABLE delivery_reports (
    id                  INTEGER PRIMARY KEY,
    provider_message_id TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    reported            TEXT    NOT NULL,
    error_code          TEXT    NOT NULL DEFAULT '',
    reported_at         INTEGER NOT NULL,
    timestamped         INTEGER NOT NULL,
    received_at         INTEGER NOT NULL,
    message_id          TEXT    REFERENCES messages (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX delivery_reports_identity ON delivery_reports
    (provider_message_id, reported, error_code, (CASE WHEN timestamped THEN reported_at ELSE -1 END));
CREATE INDEX delivery_reports_parked ON delivery_reports (received_at) WHERE message_id IS NULL;
CREATE INDEX delivery_reports_message ON delivery_reports (message_id);

CREATE TABLE callback_settings (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    url TEXT    NOT NULL
);

CREATE TABLE callbacks (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id          TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    url                 TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    delivery_status     TEXT    NOT NULL,
    provider_message_id TEXT    NOT NULL,
    error               TEXT    NOT NULL,
    event_at            INTEGER NOT NULL,
    state               TEXT    NOT NULL DEFAULT 'pending',
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    last_error          TEXT    NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX callbacks_done ON callbacks (updated_at) WHERE state <> 'pending';
CREATE INDEX callbacks_failed ON callbacks (id) WHERE state = 'failed';
CREATE INDEX callbacks_message ON callbacks (message_id);

-- The winner among a provider id's parked reports, as on PostgreSQL: the
-- earliest delivered, else the latest undelivered. Created before
-- messages_callback on purpose: SQLite fires a row's triggers newest first,
-- so the callback of the send is written before the one of the parked
-- report it applies (storetest checks the order).
-- +goose StatementBegin
CREATE TRIGGER messages_parked_reports AFTER UPDATE OF provider_message_id ON messages
WHEN NEW.provider_message_id <> '' AND NEW.provider_message_id IS NOT OLD.provider_message_id
    AND EXISTS (SELECT 1 FROM delivery_reports WHERE provider_message_id = NEW.provider_message_id AND message_id IS NULL)
BEGIN
    INSERT INTO audit_events (type, message_id, actor, details, created_at)
    SELECT 'message.delivery_report', NEW.id, 'dlr:parked',
        r.status || ' (' || r.reported || CASE WHEN r.error_code <> '' AND r.status <> 'delivered'
            THEN ', error_code ' || r.error_code ELSE '' END
        || ', at ' || strftime('%Y-%m-%dT%H:%M:%fZ', r.reported_at / 1000000.0, 'unixepoch') || ', parked)',
        NEW.updated_at
    FROM (SELECT * FROM delivery_reports
        WHERE provider_message_id = NEW.provider_message_id AND message_id IS NULL
        ORDER BY status = 'delivered' DESC, CASE WHEN status = 'delivered' THEN reported_at END ASC,
            reported_at DESC, id
        LIMIT 1) r
    WHERE NEW.delivery_status = '';
    UPDATE messages SET (delivery_status, delivered_at, delivery_error_code, delivery_reported_at, updated_at) = (
        SELECT r.status, CASE WHEN r.status = 'delivered' THEN r.reported_at END,
            CASE WHEN r.status = 'delivered' THEN '' ELSE r.error_code END, r.reported_at, NEW.updated_at
        FROM delivery_reports r
        WHERE r.provider_message_id = NEW.provider_message_id AND r.message_id IS NULL
        ORDER BY r.status = 'delivered' DESC, CASE WHEN r.status = 'delivered' THEN r.reported_at END ASC,
            r.reported_at DESC, r.id
        LIMIT 1)
    WHERE id = NEW.id AND delivery_status = '';
    UPDATE delivery_reports SET message_id = NEW.id
    WHERE provider_message_id = NEW.provider_message_id AND message_id IS NULL;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER messages_callback AFTER UPDATE ON messages
WHEN (NEW.status IS NOT OLD.status AND NEW.status IN ('sent', 'dead', 'expired', 'canceled'))
    OR NEW.delivery_reported_at IS NOT OLD.delivery_reported_at
BEGIN
    INSERT INTO callbacks (message_id, url, status, delivery_status, provider_message_id, error, event_at,
        next_attempt_at, created_at, updated_at)
    SELECT NEW.id, t.url, NEW.status, NEW.delivery_status, NEW.provider_message_id,
        CASE WHEN NEW.delivery_reported_at IS NOT OLD.delivery_reported_at
            THEN NEW.delivery_error_code ELSE NEW.last_error END,
        NEW.updated_at, NEW.updated_at, NEW.updated_at, NEW.updated_at
    FROM (SELECT CASE WHEN NEW.callback_url <> '' THEN NEW.callback_url
        ELSE coalesce((SELECT url FROM callback_settings WHERE id = 1), '') END AS url) t
    WHERE t.url <> '';
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER messages_parked_reports;
DROP TRIGGER messages_callback;
DROP TABLE callbacks;
DROP TABLE callback_settings;
DROP TABLE delivery_reports;
DROP INDEX messages_delivery_status_id;
DROP INDEX IF EXISTS messages_provider_message_id; -- serve drops it while delivery reports are off
ALTER TABLE messages DROP COLUMN callback_url;
ALTER TABLE messages DROP COLUMN delivery_reported_at;
ALTER TABLE messages DROP COLUMN delivery_error_code;
ALTER TABLE messages DROP COLUMN delivered_at;
ALTER TABLE messages DROP COLUMN delivery_status;
