-- Retention finds expired final messages through these small partial
-- indexes, oldest first, instead of scanning every sent message. A sent
-- message's age counts from sent_at, a canceled or dead one's from updated_at.
-- audit_events_created_idx (00001) already serves the audit purge.

-- +goose Up
CREATE INDEX messages_sent_age_idx ON messages (sent_at) WHERE status = 'sent';
CREATE INDEX messages_canceled_age_idx ON messages (updated_at) WHERE status = 'canceled';
CREATE INDEX messages_dead_age_idx ON messages (updated_at) WHERE status = 'dead';

-- +goose Down
DROP INDEX messages_dead_age_idx;
DROP INDEX messages_canceled_age_idx;
DROP INDEX messages_sent_age_idx;
