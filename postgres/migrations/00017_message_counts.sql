-- The status counts of /api/stats and /metrics read a table of counters
-- (issue 12).
--
-- Counting messages by status was a scan of the whole table, every
-- STATS_REFRESH (5 s) on every instance: 380 ms with two parallel workers
-- for 1,000,000 messages (docs/benchmarks.md), so with the default
-- retention (30 days of sent messages) it would soon outgrow the count's
-- 3 s timeout and load the server all the time. message_counts holds the
-- number of messages per status, kept by statement-level triggers over the
-- statements' transition tables: one upsert per statement that changes
-- statuses, whatever statement it is (create, claim, outcome, purge, an
-- operator's UPDATE). A count reads a few hundred rows.
--
-- Rows are sharded by the server process (pg_backend_pid() % 64), so that
-- concurrent transactions rarely update the same counter row and never wait
-- on each other's commit for it; a count sums the shards. The upserts take
-- their rows in status order. Counter updates change no indexed column, so
-- they are HOT and pruned within their page without VACUUM.
--
-- SQLite keeps counting: its triggers are per row, which would add two
-- writes to every claim and outcome, and its count reads a narrow index.

-- +goose Up
CREATE TABLE message_counts (
    shard  smallint NOT NULL,
    status text NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (shard, status)
);
-- +goose StatementBegin
CREATE FUNCTION ims_message_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO message_counts AS c (shard, status, n)
	SELECT pg_backend_pid() % 64, status, count(*) FROM ims_counted_new GROUP BY status ORDER BY status
	ON CONFLICT (shard, status) DO UPDATE SET n = c.n + excluded.n;
	RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION ims_message_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO message_counts AS c (shard, status, n)
	SELECT pg_backend_pid() % 64, status, sum(d) FROM (
		SELECT status, -1 AS d FROM ims_counted_old
		UNION ALL
		SELECT status, 1 AS d FROM ims_counted_new
	) AS changes GROUP BY status HAVING sum(d) <> 0 ORDER BY status
	ON CONFLICT (shard, status) DO UPDATE SET n = c.n + excluded.n;
	RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION ims_message_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO message_counts AS c (shard, status, n)
	SELECT pg_backend_pid() % 64, status, -count(*) FROM ims_counted_old GROUP BY status ORDER BY status
	ON CONFLICT (shard, status) DO UPDATE SET n = c.n + excluded.n;
	RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION ims_message_counts_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM message_counts;
	RETURN NULL;
END
$$;
-- +goose StatementEnd
-- The triggers first: creating them waits for the writes in flight and holds
-- off new ones until this migration commits, so the count below sees every
-- message written before and the triggers every one written after.
CREATE TRIGGER message_counts_inserted AFTER INSERT ON messages
REFERENCING NEW TABLE AS ims_counted_new FOR EACH STATEMENT EXECUTE FUNCTION ims_message_counts_inserted();
CREATE TRIGGER message_counts_updated AFTER UPDATE ON messages
REFERENCING OLD TABLE AS ims_counted_old NEW TABLE AS ims_counted_new FOR EACH STATEMENT EXECUTE FUNCTION ims_message_counts_updated();
CREATE TRIGGER message_counts_deleted AFTER DELETE ON messages
REFERENCING OLD TABLE AS ims_counted_old FOR EACH STATEMENT EXECUTE FUNCTION ims_message_counts_deleted();
CREATE TRIGGER message_counts_truncated AFTER TRUNCATE ON messages
FOR EACH STATEMENT EXECUTE FUNCTION ims_message_counts_truncated();
INSERT INTO message_counts (shard, status, n) SELECT 0, status, count(*) FROM messages GROUP BY status;

-- +goose Down
DROP TRIGGER message_counts_truncated ON messages;
DROP TRIGGER message_counts_deleted ON messages;
DROP TRIGGER message_counts_updated ON messages;
DROP TRIGGER message_counts_inserted ON messages;
DROP FUNCTION ims_message_counts_truncated();
DROP FUNCTION ims_message_counts_deleted();
DROP FUNCTION ims_message_counts_updated();
DROP FUNCTION ims_message_counts_inserted();
DROP TABLE message_counts;
