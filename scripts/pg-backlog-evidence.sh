#!/bin/bash
# pg-backlog-evidence.sh: runs one `ims bench -db postgres` drain (default
# 1,000,000 messages) in a scratch database and records, while it runs, what
# PostgreSQL is doing: every statement's duration (log_min_duration_statement=0
# set for the run's own connections only, through the URL, so nothing of the
# server's configuration changes), pg_stat_activity wait events sampled every
# 0.2 s, and every 10 s the run's table and index statistics (pg_stat_user_*,
# pg_statio_user_*), pg_stat_bgwriter and pg_stat_wal. A diagnostic tool, not
# a test: nothing in CI runs it. Summarise with scripts/pg-backlog-summary.sh.
#
#   scripts/pg-backlog-evidence.sh OUTDIR [N] [extra ims bench flags...]
set -euo pipefail
OUT=${1:?usage: pg-backlog-evidence.sh OUTDIR [N] [bench flags]}
N=${2:-1000000}
shift $(( $# >= 2 ? 2 : 1 ))
IMS=${IMS:-ims}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${DB:-ims_backlog_evidence}
APP=ims-backlog-evidence
LOG=${PGLOG:-/var/log/postgresql/postgresql-15-main.log}
mkdir -p "$OUT"

psql -qX "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
trap 'kill $(jobs -p) 2>/dev/null || true; psql -qX "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null' EXIT

q() { psql -qXAt -F'|' "$PGURL/$DB" -c "$1"; }
# The bench makes one schema (ims_bench_*) in the scratch database.
in_schema() {
	local schema
	schema=$(q "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ims\_bench\_%' LIMIT 1")
	PGOPTIONS="-c search_path=$schema" psql -qX "$PGURL/$DB" "$@"
}

log_start=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
# Statement durations, without the parameters (outcome batches carry
# thousands of ids): the run's connections only.
url="$PGURL/$DB?sslmode=disable&application_name=$APP&log_min_duration_statement=0&log_parameter_max_length=0"
"$IMS" bench -db postgres -database-url "$url" -n "$N" -create bulk -timeout 30m -json -quiet "$@" \
	>"$OUT/bench.json" 2>"$OUT/bench.err" &
bench=$!

# Wait events: one line per active IMS backend per sample.
(
	while kill -0 $bench 2>/dev/null; do
		q "SELECT to_char(clock_timestamp(),'HH24:MI:SS.MS'), coalesce(wait_event_type,'CPU'),
			coalesce(wait_event,'-'), coalesce(substring(query from '/\* ims: ([^*]*) \*/'),left(query,30))
			FROM pg_stat_activity WHERE application_name = '$APP' AND state = 'active'" || true
		q "SELECT to_char(clock_timestamp(),'HH24:MI:SS.MS'), 'autovacuum', coalesce(wait_event,'-'), left(query,60)
			FROM pg_stat_activity WHERE datname = '$DB' AND backend_type = 'autovacuum worker'" || true
		sleep 0.2
	done
) >"$OUT/waits.txt" &

# Statistics every 10 s.
(
	while kill -0 $bench 2>/dev/null; do
		t=$(date +%H:%M:%S)
		q "SELECT '$t', relname, n_live_tup, n_dead_tup, n_tup_ins, n_tup_upd, n_tup_hot_upd,
			autovacuum_count, autoanalyze_count, pg_relation_size(relid) FROM pg_stat_user_tables" >>"$OUT/tables.txt" || true
		q "SELECT '$t', s.relname, s.heap_blks_read, s.heap_blks_hit, s.idx_blks_read, s.idx_blks_hit
			FROM pg_statio_user_tables s" >>"$OUT/statio_tables.txt" || true
		q "SELECT '$t', indexrelname, idx_blks_read, idx_blks_hit, pg_relation_size(indexrelid)
			FROM pg_statio_user_indexes" >>"$OUT/statio_indexes.txt" || true
		q "SELECT '$t', checkpoints_timed, checkpoints_req, buffers_checkpoint, buffers_clean, buffers_backend,
			buffers_alloc FROM pg_stat_bgwriter" >>"$OUT/bgwriter.txt" || true
		q "SELECT '$t', wal_records, wal_fpi, wal_bytes FROM pg_stat_wal" >>"$OUT/wal.txt" || true
		sleep 10
	done
) &

# The claim statement (postgres/delivery.go, claimSQL) explained every 30 s
# on the live table, inside a transaction that is rolled back: its 1,000
# rows are locked for the statement's few milliseconds, and claimers skip them.
claim_explain="BEGIN;
EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY ON)
WITH running AS MATERIALIZED (SELECT 1 FROM scheduler_state WHERE id = 1 AND running FOR SHARE),
due AS (
	SELECT d.id, d.priority, d.due_at FROM (VALUES (0::smallint), (1::smallint), (2::smallint)) AS r(rank)
	CROSS JOIN LATERAL (
		SELECT id, priority, next_attempt_at AS due_at FROM messages
		WHERE status IN ('pending', 'sending') AND priority = r.rank AND next_attempt_at <= now()
			AND (expires_at IS NULL OR expires_at > now()) AND EXISTS (SELECT 1 FROM running)
		ORDER BY next_attempt_at, id LIMIT 1000 FOR UPDATE SKIP LOCKED) d
	LIMIT 1000),
claimed AS (
	UPDATE messages m SET status = 'sending', attempts = m.attempts + 1, next_attempt_at = now() + interval '1 minute', updated_at = now()
	FROM due WHERE m.id = due.id RETURNING m.*, due.due_at),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT 'message.claimed', c.id::text, 'explain', format('attempt %s', c.attempts), now() FROM claimed c ORDER BY c.priority, c.due_at, c.id)
SELECT count(*) FROM claimed;
ROLLBACK;"
(
	sleep 5
	while kill -0 $bench 2>/dev/null; do
		{ echo "=== $(date +%H:%M:%S)"; in_schema -c "$claim_explain" 2>&1; } >>"$OUT/explain.txt"
		sleep 30
	done
) &

# EMULATE_AUTOVACUUM=1: this machine's server runs with autovacuum = off
# (conf.d/90-ci.conf), which no production server does. Turning it on is a
# server-wide change; instead this loop does, for the run's database only,
# what the autovacuum daemon would with its defaults: VACUUM a table with
# more than 50 + 0.2 x reltuples dead rows (or 1000 + 0.2 x reltuples
# inserted since), ANALYZE one with 50 + 0.1 x reltuples changed, throttled
# as autovacuum is (cost delay 2 ms, limit 200), looking every AV_NAPTIME
# seconds (default 60, autovacuum_naptime).
if [ "${EMULATE_AUTOVACUUM:-0}" = 1 ]; then
	(
		while kill -0 $bench 2>/dev/null; do
			q "SELECT s.schemaname || '.' || s.relname,
				s.n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0)
					OR s.n_ins_since_vacuum > 1000 + 0.2 * greatest(c.reltuples, 0),
				s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
				FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
				WHERE s.schemaname LIKE 'ims\\_bench\\_%'" 2>/dev/null |
			while IFS='|' read -r rel vac ana; do
				cmd=
				[ "$vac" = t ] && cmd="VACUUM (ANALYZE $([ "$ana" = t ] && echo true || echo false)) $rel"
				[ -z "$cmd" ] && [ "$ana" = t ] && cmd="ANALYZE $rel"
				[ -z "$cmd" ] && continue
				t0=$(date +%s.%N)
				PGOPTIONS="-c vacuum_cost_delay=2 -c vacuum_cost_limit=200" psql -qX "$PGURL/$DB" -c "$cmd" >/dev/null 2>&1 || true
				echo "$(date +%H:%M:%S) $cmd $(echo "$(date +%s.%N) - $t0" | bc) s"
			done
			sleep "${AV_NAPTIME:-60}"
		done
	) >"$OUT/vacuum.txt" &
fi

wait $bench || echo "bench exited $?" >&2
sleep 1
tail -c +"$((log_start + 1))" "$LOG" | grep -a 'duration: ' >"$OUT/durations.log" || true
cat "$OUT/bench.json"
