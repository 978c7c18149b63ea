-- Fewer writes per delivered message (issue 12), on the messages table.
--
-- fillfactor 40 on messages: a claim and an outcome each write a new
-- version of the row. With full pages that version goes to another page,
-- and PostgreSQL logs a lock of the old version besides the update (counted
-- with scripts/pg-work-per-message.sh: 2,000 lock records per 1,000 claims,
-- 989 per 1,000 outcomes). Room on the page for the new versions removes
-- those (50 still left 174 per 1,000 outcomes, 40 none); the old versions
-- are pruned on the page once no snapshot needs them, so the table does not
-- grow by a page per update either. The updates are still not HOT: both
-- change indexed columns (status, next_attempt_at). Only pages written from
-- now on are affected: existing rows stay where they are.
--
-- messages_sent_age_idx goes: every sent outcome wrote an entry in it for
-- retention alone. The sent purge now walks messages_status_id_idx in ID
-- order, bounded by the ID of the cut (IDs are UUIDv7, created in time
-- order, and a message is sent after it is created: see
-- msgid.Bound), and checks sent_at on the rows of that range.

-- +goose Up
ALTER TABLE messages SET (fillfactor = 40);
DROP INDEX messages_sent_age_idx;

-- +goose Down
CREATE INDEX messages_sent_age_idx ON messages (sent_at) WHERE status = 'sent';
ALTER TABLE messages RESET (fillfactor);
