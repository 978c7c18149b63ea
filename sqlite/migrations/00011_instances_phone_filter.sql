-- The fleet's instances and the phone filter of GET /api/messages (issue 11).
-- The same table and index as PostgreSQL's 00011, which explains them; times
-- are unix microseconds as everywhere here. phone_number is insert-only: the
-- index costs one entry when a message is created and nothing on claims,
-- leases or delivery updates.

-- +goose Up
CREATE TABLE instances (
    id         TEXT    PRIMARY KEY,
    started_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    version    TEXT    NOT NULL DEFAULT '',
    queue_mode TEXT    NOT NULL DEFAULT '',
    leader     INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX messages_phone_number_id ON messages (phone_number, id);

-- +goose Down
DROP INDEX messages_phone_number_id;
DROP TABLE instances;
