-- The claim writes the attempt row and the audit trail reads a delivery's
-- message.claimed and message.sent events from it (issue 12): a delivered
-- message no longer writes two audit rows, and its outcome finishes the
-- attempt row with an update (HOT: no indexed column changes) instead of
-- inserting one. See postgres/audit.go (the union the audit list reads),
-- postgres/delivery.go and postgres/outcomes.go, and docs/benchmarks.md.
--
-- Attempt IDs come from the audit events' sequence, which now steps by 2:
-- an attempt's ID is its claimed event's, and the free ID after it its sent
-- event's (ims.ClaimedEventID, ims.SentEventID), so events keep one ordered
-- int64 cursor. The sequence restarts above every ID either table holds,
-- so no new attempt takes the ID of an old one. Old attempt rows have no
-- claimed_at: their events are stored rows, and nothing is synthesised
-- from them.
--
-- claimed_at, claim_actor: the claim's time and actor (the claimed event).
-- actor: the outcome's actor when it differs from the claim's, else NULL.
-- sent_event: the outcome was current and sent, its event is this row.
--
-- fillfactor 40 on delivery_attempts: a claim batch inserts its in-flight
-- rows side by side, and its outcome batch rewrites each of them in one
-- transaction, so every page must hold both versions for the update to be
-- HOT (counted: 50 makes 94% of the outcomes HOT, 40 all of them with the
-- receiver's short answer; without it none, and each outcome adds two index
-- entries and a lock). Old versions are pruned afterwards; the table takes
-- up to 2.5 times the pages, while audit_events loses two rows per delivery.
--
-- audit_events_type_idx now leaves out only message.created: claimed and
-- sent rows are rare in the table now (stored before 00013, kept by a
-- message purge, or a sent event with an unusual text), and a list of one
-- of those types must find them by the index rather than walk the table.
--
-- audit_horizon holds the cut of the last audit purge: a synthesised event
-- older than it is treated as purged (not listed, not kept by a message
-- purge), as a stored one would have been deleted.

-- +goose Up
ALTER TABLE delivery_attempts
    ADD COLUMN claimed_at  timestamptz,
    ADD COLUMN claim_actor text    NOT NULL DEFAULT '',
    ADD COLUMN actor       text,
    ADD COLUMN sent_event  boolean NOT NULL DEFAULT false;
ALTER TABLE delivery_attempts ALTER COLUMN id DROP IDENTITY;
ALTER TABLE audit_events ALTER COLUMN id SET INCREMENT BY 2;
SELECT setval('audit_events_id_seq',
    greatest((SELECT max(id) FROM audit_events), (SELECT max(id) FROM delivery_attempts), 1));
ALTER TABLE delivery_attempts ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq');
CREATE TABLE audit_horizon (
    id            smallint    PRIMARY KEY CHECK (id = 1),
    purged_before timestamptz NOT NULL
);
INSERT INTO audit_horizon VALUES (1, '-infinity');
ALTER TABLE delivery_attempts SET (fillfactor = 40);
DROP INDEX audit_events_type_idx;
CREATE INDEX audit_events_type_idx ON audit_events (type, id) WHERE type NOT IN ('message.created');

-- +goose Down
DROP INDEX audit_events_type_idx;
CREATE INDEX audit_events_type_idx ON audit_events (type, id)
    WHERE type NOT IN ('message.created', 'message.claimed', 'message.sent');
INSERT INTO audit_events (id, type, message_id, actor, details, created_at) OVERRIDING SYSTEM VALUE
SELECT a.id, 'message.claimed', a.message_id::text, a.claim_actor, 'attempt ' || a.number, a.claimed_at
FROM delivery_attempts a WHERE a.claimed_at >= (SELECT purged_before FROM audit_horizon)
UNION ALL
SELECT a.id + 1, 'message.sent', a.message_id::text, coalesce(a.actor, a.claim_actor),
    CASE WHEN a.status_code = 0 THEN 'delivered' ELSE 'delivered (HTTP ' || a.status_code || ')' END, a.created_at
FROM delivery_attempts a WHERE a.sent_event AND a.created_at >= (SELECT purged_before FROM audit_horizon);
DELETE FROM delivery_attempts WHERE outcome IN ('sending', 'released', 'deferred', 'lease_expired');
DROP TABLE audit_horizon;
ALTER TABLE delivery_attempts RESET (fillfactor);
ALTER TABLE delivery_attempts ALTER COLUMN id DROP DEFAULT;
ALTER TABLE delivery_attempts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('delivery_attempts', 'id'), greatest((SELECT max(id) FROM delivery_attempts), 1));
ALTER TABLE audit_events ALTER COLUMN id SET INCREMENT BY 1;
ALTER TABLE delivery_attempts
    DROP COLUMN claimed_at, DROP COLUMN claim_actor, DROP COLUMN actor, DROP COLUMN sent_event;
