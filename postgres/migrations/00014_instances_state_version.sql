-- Each instance confirms the scheduler state version it has applied, so a
-- stop can wait until every live instance has seen it (issue 7 defect 6).

-- +goose Up
ALTER TABLE instances ADD COLUMN state_version bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE instances DROP COLUMN state_version;
