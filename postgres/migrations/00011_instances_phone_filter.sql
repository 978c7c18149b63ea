-- The fleet's instances and the phone filter of GET /api/messages (issue 11).
--
-- instances holds one row per running instance, written by its heartbeat
-- every few seconds (ims.DefaultHeartbeat) with last_seen by the database's
-- clock, deleted on a clean shutdown, and pruned by any instance once not
-- seen for ims.InstancePruneAfter (a killed instance never deletes its own).
-- A few rows, rewritten a few times a minute per instance: no index but the
-- key.
--
-- messages_phone_number_id serves ?phone_number= (exact match, newest first,
-- the id being the cursor). phone_number is insert-only: no statement ever
-- changes it, so the index costs one entry when a message is created and
-- nothing on claims, leases or delivery updates (PostgreSQL's HOT updates
-- stay possible, as no indexed column of theirs changes).
-- (Wrong, as counted later: claims and outcomes change indexed columns, so
-- they are never HOT and every row version paid an entry here. 00016 moves
-- the pairs to message_phones.)

-- +goose Up
CREATE TABLE instances (
    id         text        PRIMARY KEY,
    started_at timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    version    text        NOT NULL DEFAULT '',
    queue_mode text        NOT NULL DEFAULT '',
    leader     boolean     NOT NULL DEFAULT false
);

CREATE INDEX messages_phone_number_id ON messages (phone_number, id);

-- +goose Down
DROP INDEX messages_phone_number_id;
DROP TABLE instances;
