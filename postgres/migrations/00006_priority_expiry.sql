-- Priorities and expiry (issue 9). priority holds ims.Priority.Rank (0 high,
-- 1 normal, 2 low): claims order by it first, as an integer comparison.
-- expires_at is NULL for a message that never expires.
--
-- The due index leads with the rank so that a claim reads each priority's
-- due messages in order (see claimSQL): a million due low messages never
-- stand between a claim and a high one. The expiry index serves the
-- sweeper, which moves due-expired messages to expired; the age index
-- serves retention of expired messages, purged like dead ones.

-- +goose Up
ALTER TABLE messages ADD COLUMN priority smallint NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN expires_at timestamptz;
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'canceled', 'expired'));
DROP INDEX messages_due_idx;
CREATE INDEX messages_due_idx ON messages (priority, next_attempt_at, id) WHERE status IN ('pending', 'sending');
CREATE INDEX messages_expiry_idx ON messages (expires_at) WHERE status IN ('pending', 'sending') AND expires_at IS NOT NULL;
CREATE INDEX messages_priority_id_idx ON messages (priority, id);
CREATE INDEX messages_expired_age_idx ON messages (updated_at) WHERE status = 'expired';

-- +goose Down
-- Expired messages have no status to go back to: they become dead, the
-- nearest terminal status, keeping their audit trail.
UPDATE messages SET status = 'dead' WHERE status = 'expired';
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'canceled'));
DROP INDEX messages_expired_age_idx;
DROP INDEX messages_priority_id_idx;
DROP INDEX messages_expiry_idx;
DROP INDEX messages_due_idx;
CREATE INDEX messages_due_idx ON messages (next_attempt_at, id) WHERE status IN ('pending', 'sending');
ALTER TABLE messages DROP COLUMN expires_at;
ALTER TABLE messages DROP COLUMN priority;
