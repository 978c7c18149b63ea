-- The hot path's indexes: what each claim, outcome and create pays for
-- (issue 9's SQLite regression; measured in docs/benchmarks.md with
-- instruction counts and SQLite's VM-step counters).
--
-- messages_due gains expires_at as its last column: the claim tests every
-- candidate's expiry (ims.Expired), and with the column in the index that
-- test reads no table row. The entry is rewritten on every claim and
-- outcome anyway (next_attempt_at and status change).
--
-- messages_priority_id holds only the priorities other than normal (rank
-- 1): every create paid one more B-tree insert for it, ~6% of a create,
-- to serve a filter of the message list. The default priority, which most
-- messages have, is listed by walking the primary key (see ListMessages).
--
-- audit_events_type leaves out the three events every delivery writes
-- (created, claimed, sent): each is a third of all events, so a
-- newest-first list of one finds its page walking the primary key; the
-- index stays for the rare types (see ListAudit, which names the exclusion
-- word for word so that SQLite can prove the predicate). Inequalities, not
-- NOT IN: SQLite codes an index's IN list of more than two constants as an
-- ephemeral table built for every row, like the CHECK below.
--
-- messages_expiry tests expires_at first: SQLite evaluates a partial
-- index's WHERE for the old and the new row of every UPDATE that changes a
-- column the WHERE names (status, on every claim and outcome), and most
-- messages have no expiry, so the cheap test now decides it alone.
--
-- The status CHECK is written as a chain of equalities instead of IN: SQLite
-- codes a CHECK's IN list of more than two constants as an ephemeral B-tree
-- that it builds anew for every row written, which cost ~19% of a claim's
-- UPDATE (callgrind, 1,000 rows). The two accept the same statuses. A CHECK
-- that accepts the same values does not change what is stored, so the
-- table's definition is edited in place, by the procedure SQLite documents
-- for such changes (https://sqlite.org/lang_altertable.html, "making other
-- kinds of table schema changes"), instead of rebuilding the table; the
-- index statements after it change the schema version, so every connection
-- reads the new definition.
--
-- The same holds for a trigger's WHEN: SQLite evaluates it for every row
-- an UPDATE of messages touches, every claim and outcome included, and an
-- IN list of four statuses there cost ~20k instructions per claimed message
-- (counted on the tree with migration 00009's messages_callback trigger).
-- Its text is edited in place too, to the equivalent chain of equalities;
-- where the trigger does not exist the UPDATE matches nothing.

-- +goose Up
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status IN (''pending'', ''sending'', ''sent'', ''dead'', ''canceled'', ''expired''))',
    'CHECK (status = ''pending'' OR status = ''sending'' OR status = ''sent'' OR status = ''dead'' OR status = ''canceled'' OR status = ''expired'')')
WHERE type = 'table' AND name = 'messages';
UPDATE sqlite_schema SET sql = replace(sql,
    'NEW.status IN (''sent'', ''dead'', ''expired'', ''canceled'')',
    '(NEW.status = ''sent'' OR NEW.status = ''dead'' OR NEW.status = ''expired'' OR NEW.status = ''canceled'')')
WHERE type = 'trigger' AND name = 'messages_callback';
PRAGMA writable_schema = RESET;
DROP INDEX messages_due;
CREATE INDEX messages_due ON messages (priority, next_attempt_at, id, expires_at)
    WHERE status IN ('pending', 'sending');
DROP INDEX messages_priority_id;
CREATE INDEX messages_priority_id ON messages (priority, id) WHERE priority <> 1;
DROP INDEX messages_expiry;
CREATE INDEX messages_expiry ON messages (expires_at)
    WHERE expires_at IS NOT NULL AND status IN ('pending', 'sending');
DROP INDEX audit_events_type;
CREATE INDEX audit_events_type ON audit_events (type, id)
    WHERE type <> 'message.created' AND type <> 'message.claimed' AND type <> 'message.sent';

-- +goose Down
DROP INDEX audit_events_type;
CREATE INDEX audit_events_type ON audit_events (type, id);
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status = ''pending'' OR status = ''sending'' OR status = ''sent'' OR status = ''dead'' OR status = ''canceled'' OR status = ''expired'')',
    'CHECK (status IN (''pending'', ''sending'', ''sent'', ''dead'', ''canceled'', ''expired''))')
WHERE type = 'table' AND name = 'messages';
UPDATE sqlite_schema SET sql = replace(sql,
    '(NEW.status = ''sent'' OR NEW.status = ''dead'' OR NEW.status = ''expired'' OR NEW.status = ''canceled'')',
    'NEW.status IN (''sent'', ''dead'', ''expired'', ''canceled'')')
WHERE type = 'trigger' AND name = 'messages_callback';
PRAGMA writable_schema = RESET;
DROP INDEX messages_expiry;
CREATE INDEX messages_expiry ON messages (expires_at) WHERE status IN ('pending', 'sending') AND expires_at IS NOT NULL;
DROP INDEX messages_priority_id;
CREATE INDEX messages_priority_id ON messages (priority, id);
DROP INDEX messages_due;
CREATE INDEX messages_due ON messages (priority, next_attempt_at, id) WHERE status IN ('pending', 'sending');
