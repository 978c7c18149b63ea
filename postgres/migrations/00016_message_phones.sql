-- The phone filter of GET /api/messages reads a table of its own (issue 12).
--
-- messages_phone_number_id (00011) was meant to cost one entry per message,
-- phone_number being insert-only. On PostgreSQL it cost one per row
-- version: the claim and the outcome change indexed columns (status,
-- next_attempt_at), so neither update is HOT and each writes an entry in
-- every index of the table, this one included: two of a delivery's ten
-- index entries (scripts/pg-work-per-message.sh). message_phones holds the
-- pairs once, written when a message is created and deleted with it, so a
-- delivery writes none; the list joins it to messages (postgres/messages.go).
-- SQLite updates only the indexes whose columns change, so it keeps its
-- index.
--
-- Statement-level triggers keep the table in step with every insert and
-- delete of messages, whatever statement makes it (the create, the purge,
-- an operator's DELETE): one INSERT or DELETE per statement, over the
-- statement's transition table. phone_number is never updated.

-- +goose Up
CREATE TABLE message_phones (
    phone_number text NOT NULL,
    message_id   uuid NOT NULL,
    PRIMARY KEY (phone_number, message_id)
);
INSERT INTO message_phones (phone_number, message_id) SELECT phone_number, id FROM messages;
-- +goose StatementBegin
CREATE FUNCTION ims_message_phones_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO message_phones (phone_number, message_id) SELECT phone_number, id FROM ims_added_messages;
	RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION ims_message_phones_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM message_phones p USING ims_removed_messages o
	WHERE p.phone_number = o.phone_number AND p.message_id = o.id;
	RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER message_phones_added AFTER INSERT ON messages
REFERENCING NEW TABLE AS ims_added_messages FOR EACH STATEMENT EXECUTE FUNCTION ims_message_phones_added();
CREATE TRIGGER message_phones_removed AFTER DELETE ON messages
REFERENCING OLD TABLE AS ims_removed_messages FOR EACH STATEMENT EXECUTE FUNCTION ims_message_phones_removed();
DROP INDEX messages_phone_number_id;

-- +goose Down
CREATE INDEX messages_phone_number_id ON messages (phone_number, id);
DROP TRIGGER message_phones_removed ON messages;
DROP TRIGGER message_phones_added ON messages;
DROP FUNCTION ims_message_phones_removed();
DROP FUNCTION ims_message_phones_added();
DROP TABLE message_phones;
