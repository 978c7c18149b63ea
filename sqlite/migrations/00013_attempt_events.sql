-- The claim writes the attempt row and the audit trail reads a delivery's
-- message.claimed and message.sent events from it, as on PostgreSQL (see
-- its 00013 and docs/benchmarks.md): a delivered message no longer writes
-- two audit rows, and its outcome updates the attempt row (no indexed
-- column changes) instead of inserting one.
--
-- IDs: an attempt's ID is its claimed event's and the ID after it its sent
-- event's (ims.ClaimedEventID, ims.SentEventID). SQLite has one writer, so
-- the claim takes them from audit_events' AUTOINCREMENT counter itself
-- (sqlite_sequence): two per attempt, and the counter moves past them in the
-- same transaction (see sqlite/delivery.go). The counter starts above every
-- ID either table holds, so no new attempt takes an old attempt's ID. Old
-- attempt rows have no claimed_at: nothing is synthesised from them.
--
-- audit_events_type now leaves out only message.created (claimed and sent
-- rows are rare in the table now), and audit_horizon holds the cut of the
-- last audit purge, below which synthesised events count as purged.

-- +goose Up
ALTER TABLE delivery_attempts ADD COLUMN claimed_at INTEGER;
ALTER TABLE delivery_attempts ADD COLUMN claim_actor TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_attempts ADD COLUMN actor TEXT;
ALTER TABLE delivery_attempts ADD COLUMN sent_event INTEGER NOT NULL DEFAULT 0;
INSERT INTO sqlite_sequence (name, seq)
SELECT 'audit_events', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'audit_events');
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT max(id) FROM audit_events), 0),
    coalesce((SELECT max(id) FROM delivery_attempts), 0))
WHERE name = 'audit_events';
CREATE TABLE audit_horizon (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    purged_before INTEGER NOT NULL
);
INSERT INTO audit_horizon VALUES (1, -9223372036854775808);
DROP INDEX audit_events_type;
CREATE INDEX audit_events_type ON audit_events (type, id) WHERE type <> 'message.created';

-- +goose Down
DROP INDEX audit_events_type;
CREATE INDEX audit_events_type ON audit_events (type, id)
    WHERE type <> 'message.created' AND type <> 'message.claimed' AND type <> 'message.sent';
INSERT INTO audit_events (id, type, message_id, actor, details, created_at)
SELECT a.id, 'message.claimed', a.message_id, a.claim_actor, 'attempt ' || a.number, a.claimed_at
FROM delivery_attempts a WHERE a.claimed_at >= (SELECT purged_before FROM audit_horizon)
UNION ALL
SELECT a.id + 1, 'message.sent', a.message_id, coalesce(a.actor, a.claim_actor),
    CASE WHEN a.status_code = 0 THEN 'delivered' ELSE 'delivered (HTTP ' || a.status_code || ')' END, a.created_at
FROM delivery_attempts a WHERE a.sent_event AND a.created_at >= (SELECT purged_before FROM audit_horizon);
DELETE FROM delivery_attempts WHERE outcome IN ('sending', 'released', 'deferred', 'lease_expired');
DROP TABLE audit_horizon;
ALTER TABLE delivery_attempts DROP COLUMN sent_event;
ALTER TABLE delivery_attempts DROP COLUMN actor;
ALTER TABLE delivery_attempts DROP COLUMN claim_actor;
ALTER TABLE delivery_attempts DROP COLUMN claimed_at;
