-- Attempt latency is kept in nanoseconds, as on PostgreSQL and in the API's
-- latency_ns (see ims.Attempt.Latency): microseconds lost the sub-microsecond
-- part of what was measured, so the two stores showed different figures.

-- +goose Up
ALTER TABLE delivery_attempts RENAME COLUMN latency_us TO latency_ns;
UPDATE delivery_attempts SET latency_ns = latency_ns * 1000;

-- +goose Down
UPDATE delivery_attempts SET latency_ns = latency_ns / 1000;
ALTER TABLE delivery_attempts RENAME COLUMN latency_ns TO latency_us;
