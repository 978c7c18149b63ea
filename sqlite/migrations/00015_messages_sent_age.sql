-- messages_sent_age goes (issue 12, as in PostgreSQL's 00015): every sent
-- outcome wrote an entry in it for retention alone. The sent purge now walks
-- messages_status_id in ID order, bounded by the ID of the cut (IDs are
-- UUIDv7 in canonical text, so text order is creation order: see
-- msgid.Bound), and checks sent_at on the rows of that range.
-- SQLite has no fillfactor: PostgreSQL's other half of 00015 has no
-- counterpart here.

-- +goose Up
DROP INDEX messages_sent_age;

-- +goose Down
CREATE INDEX messages_sent_age ON messages (sent_at) WHERE status = 'sent';
