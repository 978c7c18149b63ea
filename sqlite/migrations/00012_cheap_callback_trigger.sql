-- The delivery-report and callback triggers of 00009, made cheap on the hot
-- path (issue 12; counted in docs/benchmarks.md with
-- scripts/store-instructions.sh).
--
-- messages_callback was an AFTER UPDATE trigger on every column, and its
-- WHEN held only the change tests: every sent outcome ran its body, an
-- INSERT … SELECT into callbacks that opens a write cursor on the table and
-- its four indexes and keeps the AUTOINCREMENT counter, only to find in
-- callback_settings that no URL is set and insert nothing. Now:
-- - the WHEN also requires a URL — the message's own, tested first (a
--   column of the row), else a row in callback_settings (one rowid seek
--   into a table of at most one row); with neither, the body is never
--   started;
-- - the trigger names its columns (OF status, delivery_reported_at): an
--   update that changes neither (a lease renewal, a parked report's
--   tie-in) does not start the trigger program at all. Every change a
--   callback reports changes one of them.
-- The body is the same, so a callback is still written in the transaction
-- of the change, whichever statement makes it. It is created anew, and so
-- stays newer than messages_parked_reports: SQLite fires a row's triggers
-- newest first, and the callback of a send must be written before the one
-- of the parked report it applies (storetest checks the order). The WHEN is
-- a chain of equalities, not IN (see 00010).

-- +goose Up
DROP TRIGGER messages_callback;
-- +goose StatementBegin
CREATE TRIGGER messages_callback AFTER UPDATE OF status, delivery_reported_at ON messages
WHEN ((NEW.status IS NOT OLD.status AND (NEW.status = 'sent' OR NEW.status = 'dead' OR NEW.status = 'expired' OR NEW.status = 'canceled'))
        OR NEW.delivery_reported_at IS NOT OLD.delivery_reported_at)
    AND (NEW.callback_url <> '' OR EXISTS (SELECT 1 FROM callback_settings WHERE id = 1 AND url <> ''))
BEGIN
    INSERT INTO callbacks (message_id, url, status, delivery_status, provider_message_id, error, event_at,
        next_attempt_at, created_at, updated_at)
    SELECT NEW.id, t.url, NEW.status, NEW.delivery_status, NEW.provider_message_id,
        CASE WHEN NEW.delivery_reported_at IS NOT OLD.delivery_reported_at
            THEN NEW.delivery_error_code ELSE NEW.last_error END,
        NEW.updated_at, NEW.updated_at, NEW.updated_at, NEW.updated_at
    FROM (SELECT CASE WHEN NEW.callback_url <> '' THEN NEW.callback_url
        ELSE coalesce((SELECT url FROM callback_settings WHERE id = 1), '') END AS url) t
    WHERE t.url <> '';
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER messages_callback;
-- +goose StatementBegin
CREATE TRIGGER messages_callback AFTER UPDATE ON messages
WHEN (NEW.status IS NOT OLD.status AND (NEW.status = 'sent' OR NEW.status = 'dead' OR NEW.status = 'expired' OR NEW.status = 'canceled'))
    OR NEW.delivery_reported_at IS NOT OLD.delivery_reported_at
BEGIN
    INSERT INTO callbacks (message_id, url, status, delivery_status, provider_message_id, error, event_at,
        next_attempt_at, created_at, updated_at)
    SELECT NEW.id, t.url, NEW.status, NEW.delivery_status, NEW.provider_message_id,
        CASE WHEN NEW.delivery_reported_at IS NOT OLD.delivery_reported_at
            THEN NEW.delivery_error_code ELSE NEW.last_error END,
        NEW.updated_at, NEW.updated_at, NEW.updated_at, NEW.updated_at
    FROM (SELECT CASE WHEN NEW.callback_url <> '' THEN NEW.callback_url
        ELSE coalesce((SELECT url FROM callback_settings WHERE id = 1), '') END AS url) t
    WHERE t.url <> '';
END;
-- +goose StatementEnd
