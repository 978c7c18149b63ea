#!/bin/bash
# http-ceiling.sh: the loopback HTTP ceiling against IMS's own webhook client,
# one receiver for both. It starts `ims sink`, then posts the request IMS
# sends (POST, Content-Type, x-ins-auth-key, Idempotency-Key, Go's
# User-Agent and Accept-Encoding, the same JSON body), 64 in flight, first
# with wrk and then with the webhook client (BenchmarkDeliverReceiver), and
# prints requests per second and CPU per request of the client and of the
# receiver (utime + stime from /proc, so it works where perf has no counters).
# wrk (Debian package `wrk`) is a measuring tool only: without it the wrk
# line is skipped. Not run by CI.
#
#   scripts/http-ceiling.sh [seconds] [rounds]
#
# WEBHOOK_TESTS="name=binary ..." measures other builds of the client too
# (each `go test -c ./webhook/` of a tree with BenchmarkDeliverReceiver),
# alternating with wrk and the current tree in every round.
set -euo pipefail
SECS=${1:-10}
ROUNDS=${2:-3}
IMS=${IMS:-ims}
ADDR=127.0.0.1:${PORT:-9197}
URL="http://$ADDR/webhook"
tmp=$(mktemp -d)
trap 'kill $sink 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$IMS" sink -addr "$ADDR" >"$tmp/sink.log" 2>&1 &
sink=$!
for _ in $(seq 50); do curl -fs "http://$ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

# CPU seconds (user + system) of a process, from /proc/PID/stat.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
received() { curl -fs "http://$ADDR/stats" | sed 's/.*"received":\([0-9]*\).*/\1/'; }

cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"to":"+905500000000","content":"bench message 12345"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-ins-auth-key"] = "bench-key"
wrk.headers["Idempotency-Key"] = "0190f5e2-7b1c-7000-8000-000000000001"
wrk.headers["User-Agent"] = "Go-http-client/1.1"
wrk.headers["Accept-Encoding"] = "gzip"
EOF

go test -c -o "$tmp/webhook.test" ./webhook/
clients="webhook=$tmp/webhook.test ${WEBHOOK_TESTS:-}"

# report NAME CLIENT_CPU_SECONDS SINK_CPU_SECONDS REQUESTS WALL_SECONDS
# Each figure is over the middle of the run (from 1 s in for wrk, 2 s for the
# Go benchmark, to 1-2 s before the end), so start-up and the last
# requests in flight do not count.
report() {
	awk -v n="$1" -v c="$2" -v s="$3" -v r="$4" -v w="$5" 'BEGIN {
		printf "%-8s %9.0f req/s  client %6.1f us/req  receiver %6.1f us/req  (%d requests)\n",
			n, r / w, c / r * 1e6, s / r * 1e6, r }'
}

for round in $(seq "$ROUNDS"); do
	echo "round $round, load: $(cut -d' ' -f1-3 /proc/loadavg)"
	if command -v wrk >/dev/null; then
		wrk -t2 -c64 -d"${SECS}s" -s "$tmp/post.lua" "$URL" >"$tmp/wrk.out" &
		w=$!
		sleep 1; wc0=$(cpu $w); s0=$(cpu $sink); r0=$(received); t0=$(date +%s.%N)
		sleep "$((SECS - 2))"; wc1=$(cpu $w); s1=$(cpu $sink); r1=$(received); t1=$(date +%s.%N)
		wait $w
		report wrk "$(echo "$wc1 - $wc0" | bc)" "$(echo "$s1 - $s0" | bc)" "$((r1 - r0))" "$(echo "$t1 - $t0" | bc)"
	else
		echo "wrk        not installed (apt-get install wrk): skipped"
	fi
	for client in $clients; do
		IMS_BENCH_WEBHOOK_URL=$URL "${client#*=}" -test.run '^$' -test.bench '^BenchmarkDeliverReceiver$' \
			-test.benchtime "${SECS}s" -test.benchmem >"$tmp/go.out" &
		g=$!
		sleep 2; gc0=$(cpu $g); gs0=$(cpu $sink); gr0=$(received); gt0=$(date +%s.%N)
		sleep "$((SECS - 4))"; gc1=$(cpu $g); gs1=$(cpu $sink); gr1=$(received); gt1=$(date +%s.%N)
		wait $g
		report "${client%%=*}" "$(echo "$gc1 - $gc0" | bc)" "$(echo "$gs1 - $gs0" | bc)" "$((gr1 - gr0))" \
			"$(echo "$gt1 - $gt0" | bc)"
		grep '^BenchmarkDeliverReceiver' "$tmp/go.out" || cat "$tmp/go.out"
	done
done
