-- The trigger of 00009, made cheap on the hot path (issue 12; see
-- docs/benchmarks.md).
--
-- messages_changed's WHEN held only the change tests, and every sent
-- outcome stores a provider id, so every sent outcome queued an AFTER ROW
-- event: at the end of the statement PostgreSQL fetched the row's two
-- versions again and called the PL/pgSQL function, which looked up
-- callback_settings and then the parked reports, usually to do nothing.
-- PostgreSQL evaluates a row trigger's WHEN when the row is updated and,
-- when it is false, queues nothing and calls nothing. The WHEN now also
-- tests what the function would find:
-- - a callback needs a URL: the message's own (a column of the row, tested
--   first), else the fleet's, which ims_callback_configured reads;
-- - parked reports need to exist for the provider id: ims_has_parked, an
--   index probe of delivery_reports (identity index, provider id first).
-- A WHEN may not hold a subquery, so the two probes are SQL functions. The
-- function and its guarantees are unchanged: a callback row is written in
-- the transaction of the change, and a parked report is applied in the
-- transaction that stores its provider id. A report committed after the
-- statement's snapshot and before the function ran was applied by the
-- function before and is now left to MatchParkedReports, the race net that
-- already catches the report that commits after the function ran.
--
-- The trigger also names its columns: an update that sets none of status,
-- delivery_reported_at and provider_message_id (a lease renewal) skips even
-- the WHEN.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION ims_callback_configured() RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM callback_settings WHERE id = 1 AND url <> '')
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION ims_has_parked(pid text) RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM delivery_reports WHERE provider_message_id = pid AND message_id IS NULL)
$$;
-- +goose StatementEnd
DROP TRIGGER messages_changed ON messages;
CREATE TRIGGER messages_changed AFTER UPDATE OF status, delivery_reported_at, provider_message_id ON messages FOR EACH ROW
WHEN ((((NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('sent', 'dead', 'expired', 'canceled'))
		OR NEW.delivery_reported_at IS DISTINCT FROM OLD.delivery_reported_at)
	AND (NEW.callback_url <> '' OR ims_callback_configured()))
	OR (NEW.provider_message_id <> '' AND NEW.provider_message_id IS DISTINCT FROM OLD.provider_message_id
		AND ims_has_parked(NEW.provider_message_id)))
EXECUTE FUNCTION ims_messages_changed();

-- +goose Down
DROP TRIGGER messages_changed ON messages;
CREATE TRIGGER messages_changed AFTER UPDATE ON messages FOR EACH ROW
WHEN ((NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('sent', 'dead', 'expired', 'canceled'))
	OR NEW.delivery_reported_at IS DISTINCT FROM OLD.delivery_reported_at
	OR (NEW.provider_message_id <> '' AND NEW.provider_message_id IS DISTINCT FROM OLD.provider_message_id))
EXECUTE FUNCTION ims_messages_changed();
DROP FUNCTION ims_has_parked(text);
DROP FUNCTION ims_callback_configured();
