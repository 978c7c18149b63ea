-- Delivery reports in, status callbacks out (issue 10, parts 4 and 5).
--
-- messages gains the delivery state a report sets (ims.DeliveryStatus;
-- delivery_reported_at orders reports, see ims.DeliveryReport.Supersedes)
-- and the message's own callback_url.
--
-- delivery_reports keeps every report received: its unique key makes a
-- redelivered report a duplicate, and a report whose provider id no message
-- holds yet stays parked (message_id NULL) until one does, or until
-- DLR_PARK_TTL purges it. The store's Go code applies a report that finds
-- its message at once; the trigger messages_changed applies parked ones in
-- the transaction that stores a provider id on a message (the outcome of its
-- send), whichever statement does it.
--
-- callbacks is the status-callback outbox. The trigger messages_changed
-- writes a row in the transaction of every change a callback reports — a
-- status reaching one of ims.CallbackStatuses, or an applied delivery
-- report — whatever statement makes it, when the message has a
-- callback_url or callback_settings holds the fleet's STATUS_CALLBACK_URL.
-- A trigger, rather than a line in every writing statement, because these
-- changes are made by several single-statement CTEs tuned for throughput;
-- its WHEN clause keeps the cost off every other update (claims, leases).
-- The statuses here are ims.CallbackStatuses; storetest checks each.

-- +goose Up
ALTER TABLE messages
	ADD COLUMN delivery_status TEXT NOT NULL DEFAULT '',
	ADD COLUMN delivered_at TIMESTAMPTZ,
	ADD COLUMN delivery_error_code TEXT NOT NULL DEFAULT '',
	ADD COLUMN delivery_reported_at TIMESTAMPTZ,
	ADD COLUMN callback_url TEXT NOT NULL DEFAULT '';

-- Reports are matched by provider id, exactly as stored.
CREATE INDEX messages_provider_message_id_idx ON messages (provider_message_id) WHERE provider_message_id <> '';
-- Partial: most messages never get a report, and every non-HOT update of a
-- message (claims, outcomes) would otherwise add an entry here.
CREATE INDEX messages_delivery_status_id_idx ON messages (delivery_status, id) WHERE delivery_status <> '';

CREATE TABLE delivery_reports (
	id BIGSERIAL PRIMARY KEY,
	provider_message_id TEXT NOT NULL,
	status TEXT NOT NULL,           -- ims.DeliveryStatus
	reported TEXT NOT NULL,         -- as the provider wrote it: delivered, undelivered, failed
	error_code TEXT NOT NULL DEFAULT '',
	reported_at TIMESTAMPTZ NOT NULL,
	timestamped BOOLEAN NOT NULL,
	received_at TIMESTAMPTZ NOT NULL,
	message_id UUID REFERENCES messages (id) ON DELETE CASCADE
);
-- A report's identity: the provider's own timestamp, or none (see
-- ims.DeliveryReport.Timestamped).
CREATE UNIQUE INDEX delivery_reports_identity_idx ON delivery_reports
	(provider_message_id, reported, error_code, (CASE WHEN timestamped THEN reported_at END)) NULLS NOT DISTINCT;
CREATE INDEX delivery_reports_parked_idx ON delivery_reports (received_at) WHERE message_id IS NULL;
CREATE INDEX delivery_reports_message_idx ON delivery_reports (message_id);

CREATE TABLE callback_settings (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	url TEXT NOT NULL
);

CREATE TABLE callbacks (
	id BIGSERIAL PRIMARY KEY,
	message_id UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	url TEXT NOT NULL,
	status TEXT NOT NULL,
	delivery_status TEXT NOT NULL,
	provider_message_id TEXT NOT NULL,
	error TEXT NOT NULL,
	event_at TIMESTAMPTZ NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending',
	attempts INTEGER NOT NULL DEFAULT 0,
	-- When the row is due; while an attempt runs, its lease deadline.
	next_attempt_at TIMESTAMPTZ NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX callbacks_due_idx ON callbacks (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX callbacks_done_idx ON callbacks (updated_at) WHERE state <> 'pending';
CREATE INDEX callbacks_failed_idx ON callbacks (id) WHERE state = 'failed';
CREATE INDEX callbacks_message_idx ON callbacks (message_id);

-- ims_apply_parked applies the parked reports of provider id pid to the
-- message msg: the winner among them is what applying them one by one under
-- ims.DeliveryReport.Supersedes ends with, whatever the order (the earliest
-- delivered, else the latest undelivered), and it applies when it
-- supersedes what the message holds. Every parked report of pid is then
-- tied to msg. The trigger below calls it when a message gets its provider
-- id; the store's MatchParkedReports calls it for a report whose insert
-- raced that transaction (read committed: neither saw the other).
-- +goose StatementBegin
CREATE FUNCTION ims_apply_parked(msg uuid, pid text, at timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	r delivery_reports%ROWTYPE;
BEGIN
	SELECT * INTO r FROM delivery_reports
	WHERE provider_message_id = pid AND message_id IS NULL
	ORDER BY (status = 'delivered') DESC,
		CASE WHEN status = 'delivered' THEN reported_at END ASC,
		reported_at DESC, id
	LIMIT 1;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	UPDATE delivery_reports SET message_id = msg WHERE provider_message_id = pid AND message_id IS NULL;
	UPDATE messages m SET delivery_status = r.status,
		delivered_at = CASE WHEN r.status = 'delivered' THEN r.reported_at END,
		delivery_error_code = CASE WHEN r.status = 'delivered' THEN '' ELSE r.error_code END,
		delivery_reported_at = r.reported_at,
		updated_at = at
	WHERE m.id = msg AND (m.delivery_status = '' OR (m.delivery_status = 'undelivered'
		AND (r.status = 'delivered' OR m.delivery_reported_at IS NULL OR r.reported_at > m.delivery_reported_at)));
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	VALUES ('message.delivery_report', msg::text, 'dlr:parked',
		r.status || ' (' || r.reported || CASE WHEN r.error_code <> '' AND r.status <> 'delivered'
			THEN ', error_code ' || r.error_code ELSE '' END
		|| ', at ' || to_char(r.reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ', parked)',
		at);
	RETURN true;
END $$;
-- +goose StatementEnd

-- One row trigger for both jobs, so a sent message costs one function call:
-- first the callback of the change (a status reaching one of
-- ims.CallbackStatuses, or an applied report), then, when the change stores
-- a provider id, the parked reports of that id — whose UPDATE fires this
-- trigger again and so writes its own callback after the send's. The WHEN
-- clause keeps every other update (claims, leases) free of the cost.
-- +goose StatementBegin
CREATE FUNCTION ims_messages_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	target text := NEW.callback_url;
BEGIN
	IF (NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('sent', 'dead', 'expired', 'canceled'))
		OR NEW.delivery_reported_at IS DISTINCT FROM OLD.delivery_reported_at THEN
		IF target = '' THEN
			SELECT url INTO target FROM callback_settings WHERE id = 1;
		END IF;
		IF coalesce(target, '') <> '' THEN
			INSERT INTO callbacks (message_id, url, status, delivery_status, provider_message_id, error, event_at,
				next_attempt_at, created_at, updated_at)
			VALUES (NEW.id, target, NEW.status, NEW.delivery_status, NEW.provider_message_id,
				CASE WHEN NEW.delivery_reported_at IS DISTINCT FROM OLD.delivery_reported_at
					THEN NEW.delivery_error_code ELSE NEW.last_error END,
				NEW.updated_at, NEW.updated_at, NEW.updated_at, NEW.updated_at);
		END IF;
	END IF;
	IF NEW.provider_message_id <> '' AND NEW.provider_message_id IS DISTINCT FROM OLD.provider_message_id THEN
		PERFORM ims_apply_parked(NEW.id, NEW.provider_message_id, NEW.updated_at);
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER messages_changed AFTER UPDATE ON messages FOR EACH ROW
WHEN ((NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('sent', 'dead', 'expired', 'canceled'))
	OR NEW.delivery_reported_at IS DISTINCT FROM OLD.delivery_reported_at
	OR (NEW.provider_message_id <> '' AND NEW.provider_message_id IS DISTINCT FROM OLD.provider_message_id))
EXECUTE FUNCTION ims_messages_changed();

-- +goose Down
DROP TRIGGER messages_changed ON messages;
DROP FUNCTION ims_messages_changed();
DROP FUNCTION ims_apply_parked(uuid, text, timestamptz);
DROP TABLE callbacks;
DROP TABLE callback_settings;
DROP TABLE delivery_reports;
DROP INDEX messages_delivery_status_id_idx;
DROP INDEX messages_provider_message_id_idx;
ALTER TABLE messages
	DROP COLUMN callback_url,
	DROP COLUMN delivery_reported_at,
	DROP COLUMN delivery_error_code,
	DROP COLUMN delivered_at,
	DROP COLUMN delivery_status;
