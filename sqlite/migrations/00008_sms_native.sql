-- SMS-native message fields (issue 10, parts 1-3), computed once at create
-- (ims.Segment, ims.ParsePhone) and kept so that lists, the rate limiter
-- and quiet hours never recompute them. Rows from before this migration
-- keep the defaults: '' and 0 tell the readers to compute the encoding and
-- segments from the content (ims.Message.WithSegments), and quiet_hours
-- true holds them like any new message.

-- +goose Up
ALTER TABLE messages ADD COLUMN encoding TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN segments INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN country TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN quiet_hours BOOLEAN NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE messages DROP COLUMN quiet_hours;
ALTER TABLE messages DROP COLUMN time_zone;
ALTER TABLE messages DROP COLUMN country;
ALTER TABLE messages DROP COLUMN segments;
ALTER TABLE messages DROP COLUMN encoding;
