-- The callback and parked-report trigger of 00009/00012, once per statement
-- instead of once per row (issue 12; see docs/benchmarks.md).
--
-- 00012's row trigger kept the claims and leases free of it, but every sent
-- outcome still evaluated its WHEN, and that WHEN called two SQL functions
-- per row: ims_callback_configured (callback_settings) for a message with
-- no URL of its own, and ims_has_parked (an index probe of delivery_reports)
-- for the provider id the send stores. Each call of a SQL function starts
-- and ends an executor: in a profile of a PostgreSQL drain, 7.5% of the
-- server's CPU went to those calls.
--
-- The trigger now runs once per UPDATE statement over the statement's
-- transition tables, which PostgreSQL already keeps for message_counts_updated
-- (00017: triggers of one table and event share them), and does the same
-- two jobs with set-based statements:
-- - the callbacks of the changes (a status reaching one of
--   ims.CallbackStatuses, or an applied report) whose message has a URL of
--   its own or, failing that, when the fleet's is set; when neither is,
--   nothing is read but the settings row and the statement's new rows;
-- - then the parked reports of the provider ids the statement stored, one
--   ims_apply_parked call each, only when any report is parked at all (the
--   partial index delivery_reports_parked_idx answers that). Its UPDATE of
--   the message fires this trigger again, so the report's callback is
--   written after the send's, as before.
-- What is written, and in which transaction, is unchanged; storetest's
-- callback and delivery-report cases hold both stores to it. A row trigger
-- could name its columns (UPDATE OF) to skip lease renewals; a trigger with
-- transition tables cannot, so a renewal runs the function and finds
-- nothing to do.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION ims_messages_changed_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	fleet text;
	r record;
BEGIN
	SELECT url INTO fleet FROM callback_settings WHERE id = 1;
	fleet := coalesce(fleet, '');
	IF fleet <> '' OR EXISTS (SELECT 1 FROM ims_changed_new WHERE callback_url <> '') THEN
		INSERT INTO callbacks (message_id, url, status, delivery_status, provider_message_id, error, event_at,
			next_attempt_at, created_at, updated_at)
		SELECT n.id, CASE WHEN n.callback_url <> '' THEN n.callback_url ELSE fleet END, n.status, n.delivery_status,
			n.provider_message_id,
			CASE WHEN n.delivery_reported_at IS DISTINCT FROM o.delivery_reported_at
				THEN n.delivery_error_code ELSE n.last_error END,
			n.updated_at, n.updated_at, n.updated_at, n.updated_at
		FROM ims_changed_new n JOIN ims_changed_old o ON o.id = n.id
		WHERE (n.callback_url <> '' OR fleet <> '')
			AND ((n.status IS DISTINCT FROM o.status AND n.status IN ('sent', 'dead', 'expired', 'canceled'))
				OR n.delivery_reported_at IS DISTINCT FROM o.delivery_reported_at)
		ORDER BY n.id;
	END IF;
	IF EXISTS (SELECT 1 FROM delivery_reports WHERE message_id IS NULL) THEN
		FOR r IN
			SELECT n.id, n.provider_message_id, n.updated_at
			FROM ims_changed_new n JOIN ims_changed_old o ON o.id = n.id
			WHERE n.provider_message_id <> '' AND n.provider_message_id IS DISTINCT FROM o.provider_message_id
				AND EXISTS (SELECT 1 FROM delivery_reports d
					WHERE d.provider_message_id = n.provider_message_id AND d.message_id IS NULL)
			ORDER BY n.id
		LOOP
			PERFORM ims_apply_parked(r.id, r.provider_message_id, r.updated_at);
		END LOOP;
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd
DROP TRIGGER messages_changed ON messages;
CREATE TRIGGER messages_changed AFTER UPDATE ON messages
REFERENCING OLD TABLE AS ims_changed_old NEW TABLE AS ims_changed_new
FOR EACH STATEMENT EXECUTE FUNCTION ims_messages_changed_statement();

-- +goose Down
DROP TRIGGER messages_changed ON messages;
CREATE TRIGGER messages_changed AFTER UPDATE OF status, delivery_reported_at, provider_message_id ON messages FOR EACH ROW
WHEN ((((NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('sent', 'dead', 'expired', 'canceled'))
		OR NEW.delivery_reported_at IS DISTINCT FROM OLD.delivery_reported_at)
	AND (NEW.callback_url <> '' OR ims_callback_configured()))
	OR (NEW.provider_message_id <> '' AND NEW.provider_message_id IS DISTINCT FROM OLD.provider_message_id
		AND ims_has_parked(NEW.provider_message_id)))
EXECUTE FUNCTION ims_messages_changed();
DROP FUNCTION ims_messages_changed_statement();
