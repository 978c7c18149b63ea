#!/bin/sh
# final-bench.sh: issue 12's part 4, the wall-clock re-measure, for a QUIET
# machine (nothing else building or testing; check `uptime` first). Every
# run counts lost and duplicated deliveries; each result is one JSON line in
# $OUT (default bench-results.jsonl), labelled. Run from the repository root.
# Takes ~40 minutes, most of it the 1,000,000-message backlog.
set -eu
OUT=${OUT:-bench-results.jsonl}
go build -o /tmp/ims-final ./cmd/ims
IMS=/tmp/ims-final
run() { # label, then ims bench flags
	label=$1
	shift
	echo "== $label: $*" >&2
	uptime >&2
	printf '{"label":"%s","result":' "$label" >>"$OUT"
	"$IMS" bench -json -quiet "$@" | tr -d '\n' >>"$OUT"
	echo '}' >>"$OUT"
}
for i in 1 2 3; do
	run "pg-drain-200k-raw" -db postgres -n 200000 -create bulk -raw
	run "sqlite-drain-200k-raw" -db sqlite -n 200000 -create bulk -raw
	run "pg-rabbitmq-200k" -db postgres -queue rabbitmq -n 200000 -create bulk
	run "pg-drain-200k-ratelimit-huge" -db postgres -n 200000 -create bulk -serve-env WEBHOOK_RATE_LIMIT=10000000
	run "pg-steady-500" -db postgres -n 15000 -rate 500
	run "pg-api-create" -db postgres -n 20000 -create api -clients 64
	run "pg-drain-10k" -db postgres -n 10000 -create bulk
done
run "pg-drain-1M" -db postgres -n 1000000 -create bulk -timeout 60m
run "sqlite-drain-1M" -db sqlite -n 1000000 -create bulk -timeout 60m
