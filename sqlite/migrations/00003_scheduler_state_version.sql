-- Every change of the scheduler state bumps version, so an instance can tell
-- a newer state from a stale read (see ims.SchedulerState.Supersedes).

-- +goose Up
ALTER TABLE scheduler_state ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE scheduler_state DROP COLUMN version;
