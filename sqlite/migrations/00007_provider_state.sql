-- The fleet-wide view of the provider (ims.ProviderState: the circuit
-- breaker, the rate limiter's bucket, the probe) is one row, kept as the
-- JSON of the domain type: only the scheduler reads and writes it, always
-- whole, under a row lock. held counts a message's attempts refunded
-- because the provider failed, not the message (ims.DecideOutcome).

-- +goose Up
CREATE TABLE provider_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	state TEXT NOT NULL,
	version BIGINT NOT NULL
);
ALTER TABLE messages ADD COLUMN held INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE messages DROP COLUMN held;
DROP TABLE provider_state;
