-- The indexes every delivery pays for (issue 12), counted in the WAL with
-- scripts/pg-work-per-message.sh (see docs/benchmarks.md). A delivered
-- message wrote 18 index entries; these changes take 4 of them away, and
-- every query they served still reads an index.
--
-- messages_priority_id_idx holds only the priorities other than normal
-- (rank 1). Every create, claim and outcome inserted an entry (no update
-- of messages is HOT: each changes an indexed column). The default
-- priority, which most messages have, is listed by walking the primary
-- key (see ListMessages).
--
-- audit_events_type_idx leaves out the three events every delivery writes
-- (created, claimed, sent): they are a third of all events each, so a
-- newest-first list of one of them finds its page walking the primary key,
-- and the index stays for the rare types an operator looks for (see
-- ListAudit, which names the exclusion so the planner can use it).
--
-- audit_events_created_idx stays a B-tree, although a BRIN index would save
-- its entry on every event: retention deletes the oldest events and new
-- ones fill the freed pages, and a BRIN range's summary only ever widens,
-- so after one retention cycle every range would span all times and the
-- purge would read the whole table (see docs/benchmarks.md).

-- +goose Up
DROP INDEX messages_priority_id_idx;
CREATE INDEX messages_priority_id_idx ON messages (priority, id) WHERE priority <> 1;
DROP INDEX audit_events_type_idx;
CREATE INDEX audit_events_type_idx ON audit_events (type, id)
    WHERE type NOT IN ('message.created', 'message.claimed', 'message.sent');

-- +goose Down
DROP INDEX audit_events_type_idx;
CREATE INDEX audit_events_type_idx ON audit_events (type, id);
DROP INDEX messages_priority_id_idx;
CREATE INDEX messages_priority_id_idx ON messages (priority, id);
