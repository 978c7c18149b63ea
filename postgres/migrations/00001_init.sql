-- +goose Up
CREATE TABLE messages (
    id                  uuid PRIMARY KEY,
    phone_number        text        NOT NULL,
    content             text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'canceled')),
    idempotency_key     text,
    attempts            integer     NOT NULL DEFAULT 0,
    -- When the message is due; while sending, the lease deadline.
    next_attempt_at     timestamptz NOT NULL,
    last_error          text        NOT NULL DEFAULT '',
    provider_message_id text        NOT NULL DEFAULT '',
    send_at             timestamptz,
    sent_at             timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);

-- Claiming reads only this small partial index, however many messages are
-- already sent or dead. An expired lease makes a sending row due again
-- without an extra predicate.
CREATE INDEX messages_due_idx ON messages (next_attempt_at, id) WHERE status IN ('pending', 'sending');
CREATE UNIQUE INDEX messages_idempotency_key_idx ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_status_id_idx ON messages (status, id);

CREATE TABLE delivery_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  uuid        NOT NULL REFERENCES messages (id),
    number      integer     NOT NULL,
    status_code integer     NOT NULL DEFAULT 0,
    latency_ns  bigint      NOT NULL DEFAULT 0,
    error       text        NOT NULL DEFAULT '',
    response    text        NOT NULL DEFAULT '',
    outcome     text        NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX delivery_attempts_message_idx ON delivery_attempts (message_id, id);

-- message_id is text, not a foreign key: the trail outlives any row it names
-- and also holds events that concern no message.
CREATE TABLE audit_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type       text        NOT NULL,
    message_id text        NOT NULL DEFAULT '',
    actor      text        NOT NULL DEFAULT '',
    details    text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
CREATE INDEX audit_events_message_idx ON audit_events (message_id, id);
CREATE INDEX audit_events_type_idx ON audit_events (type, id);
CREATE INDEX audit_events_created_idx ON audit_events (created_at);

CREATE TABLE scheduler_state (
    id         integer PRIMARY KEY CHECK (id = 1),
    running    boolean     NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL DEFAULT ''
);

CREATE TABLE leader_lease (
    name       text PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);

-- ims_fail aborts the statement that calls it, so a single-statement write
-- can refuse to commit (an idempotency conflict) without a transaction round
-- trip. VOLATILE keeps the planner from evaluating it early.
-- +goose StatementBegin
CREATE FUNCTION ims_fail(reason text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION '%', reason USING ERRCODE = 'P0001', HINT = 'ims';
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ims_fail(text);
DROP TABLE leader_lease;
DROP TABLE scheduler_state;
DROP TABLE audit_events;
DROP TABLE delivery_attempts;
DROP TABLE messages;
