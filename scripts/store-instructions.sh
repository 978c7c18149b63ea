#!/bin/sh
# store-instructions.sh: instructions per store call (a batch of 1,000
# messages), counted by valgrind, so the figure does not depend on the load
# of the machine. Usage: scripts/store-instructions.sh <test binary>...
# where each binary is built with `go test -c -o X ./sqlite/` (or
# ./postgres/) from the tree to measure.
#
# Each benchmark runs with -benchtime 1x and 11x (11x runs 1 + 11 batches):
# the difference over 11 is one batch, without start-up and migration.
# The claim benchmark also creates its batch, and the outcome benchmark
# creates and claims it, so ClaimDue = claim bench - create bench and
# RecordOutcomes = outcome bench - claim bench. The GC is off and
# preemption by signal too (callgrind cannot follow it); GOMAXPROCS=1. The
# counts repeat to within ~0.5%.
set -eu
export GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 GOGC=off
count() { # binary bench benchtime
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" -test.run '^$' \
		-test.bench "Store/$2\$" -test.benchtime "$3" 2>&1 | awk '/Collected/ {print $4}'
}
per() { # binary bench: instructions per batch
	a=$(count "$1" "$2" 1x)
	b=$(count "$1" "$2" 11x)
	echo $(( (b - a) / 11 ))
}
for bin in "$@"; do
	c=$(per "$bin" CreateMessages)
	l=$(per "$bin" ClaimDue)
	r=$(per "$bin" RecordOutcomes)
	printf '%s\tCreateMessages %d\tClaimDue %d\tRecordOutcomes %d\tper message %d\n' \
		"$bin" "$c" $((l - c)) $((r - l)) $((r / 1000))
done
