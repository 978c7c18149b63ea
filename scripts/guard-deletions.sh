#!/usr/bin/env bash
# guard-deletions.sh — issue 8's judge experiment, repeatable: delete each
# guard of the delivery pipeline in turn (the running checks, the fencing
# check, the lease check, in the scheduler and in both stores; the stop gate's
# request-sent moment in the webhook adapter) and run the
# named test that must catch it, RUNS times (default 20) under -race. Every
# line of the summary must read "failed RUNS/RUNS"; "did not apply" means the
# guarded code moved and this script's pattern needs updating.
#
# It works on a throwaway worktree of HEAD (never on yours) and needs the
# test services (PostgreSQL) the store suites use.
#
#   scripts/guard-deletions.sh            # all guards, 20 runs each
#   RUNS=5 scripts/guard-deletions.sh     # quicker
#   DRY=1 scripts/guard-deletions.sh      # only check that every deletion applies
set -euo pipefail

RUNS=${RUNS:-20}
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
tree="$work/tree"
git -C "$repo" worktree add --detach "$tree" HEAD >/dev/null
trap 'git -C "$repo" worktree remove --force "$tree"; rm -rf "$work"' EXIT
cd "$tree"
export CI=true

# guard NAME FILE PERL-SUBSTITUTION PACKAGE TEST-REGEX
guard() {
	local name=$1 file=$2 expr=$3 pkg=$4 re=$5 fails=0
	git checkout -q -- .
	perl -0pi -e "$expr" "$file"
	if git diff --quiet; then
		printf '%-26s did not apply (%s)\n' "$name" "$file"
		return
	fi
	if [ -n "${DRY:-}" ]; then
		printf '%-26s applies (%s)\n' "$name" "$file"
		git checkout -q -- .
		return
	fi
	if ! go test -c -race -o "$work/$name.test" "./$pkg" >"$work/$name.build" 2>&1; then
		printf '%-26s does not build: %s\n' "$name" "$work/$name.build"
		git checkout -q -- .
		return
	fi
	for _ in $(seq "$RUNS"); do
		(cd "$pkg" && "$work/$name.test" -test.run "$re" -test.count=1 >/dev/null 2>&1) || fails=$((fails + 1))
	done
	printf '%-26s failed %d/%d  %s -run %s\n' "$name" "$fails" "$RUNS" "./$pkg" "$re"
	git checkout -q -- .
}

running='if !s.running.Load\(\) \{'
# The scheduler's running checks: before a claim, before a call, in a consumer.
guard sched-dispatch-running scheduler/dispatch.go "s/$running/if false {/" scheduler '^TestStoppedSchedulerSendsNothing$'
guard sched-deliver-running scheduler/stopgate.go "s/if !s.running.Load\(\) \|\| !s.stateFresh\(\) \{/if !s.stateFresh() {/" scheduler '^TestStopReleasesClaimedAheadMessages$'
guard sched-consumer-running scheduler/handoff_queue.go "s/$running/if false {/" scheduler '^TestQueueModeStoppedConsumerReleasesEntries$'
# The scheduler's lease check (a claimed-ahead message with too little lease
# left) and the renewer's fencing check.
guard sched-deliver-lease scheduler/worker.go 's/if !s\.now\(\)\.Add\(s\.cfg\.DeliveryTimeout\)\.Before\(m\.NextAttemptAt\) \{/if false {/' scheduler '^TestClaimedAheadMessageWithTooLittleLeaseLeftIsReleased$'
guard sched-renewer-fencing scheduler/renewer.go 's/ok: ok \&\& m\.Attempts == req\.claim\.Attempt/ok: ok/' scheduler '^TestRenewerFencesClaimsOfAnotherAttempt$'
# The stores' running checks: claim and renewal.
guard sqlite-claim-running sqlite/delivery.go 's/\n\t\tAND EXISTS \(SELECT 1 FROM scheduler_state WHERE id = 1 AND running\)\n\tORDER BY/\n\tORDER BY/' sqlite '^TestStore$/^ClaimWhileStopped$'
guard pg-claim-running postgres/delivery.go 's/ AND EXISTS \(SELECT 1 FROM running\)\n\t\tORDER BY/\n\t\tORDER BY/' postgres '^TestStore$/^ClaimWhileStopped$'
# (SQLite's renewal and check share currentClaimSQL.)
guard sqlite-renew-running sqlite/delivery.go 's/\n\tAND EXISTS \(SELECT 1 FROM scheduler_state WHERE id = 1 AND running\)`/`/' sqlite '^TestStore$/^RenewWhileStopped$'
guard pg-renew-running postgres/delivery.go 's/\n\t\tAND EXISTS \(SELECT 1 FROM running\)\n\tRETURNING m\.\*, c\.ord/\n\tRETURNING m.*, c.ord/' postgres '^TestStore$/^RenewWhileStopped$'
guard pg-check-running postgres/delivery.go 's/\n\tAND EXISTS \(SELECT 1 FROM scheduler_state WHERE id = 1 AND running\)\nORDER BY c\.ord/\nORDER BY c.ord/' postgres '^TestStore$/^RenewWhileStopped$'
# The stores' fencing checks: the attempt number in the outcome, renewal and
# release statements.
guard sqlite-outcome-fencing sqlite/outcomes.go 's/WHERE id = \?7 AND attempts = \?8 AND/WHERE id = ?7 AND ?8 = ?8 AND/' sqlite '^TestStore$/^RecordOutcomes$/stale'
guard pg-outcome-fencing postgres/outcomes.go 's/ AND m\.attempts = o\.attempt\n\tRETURNING m\.id, o\.ord/\n\tRETURNING m.id, o.ord/' postgres '^TestStore$/^RecordOutcomes$/stale'
guard sqlite-renew-fencing sqlite/delivery.go 's/id = \?1 AND attempts = \?2 AND \(\?3 = 0/id = ?1 AND ?2 = ?2 AND (?3 = 0/' sqlite '^TestStore$/^RenewClaims$'
guard pg-renew-fencing postgres/delivery.go 's/m\.status = ANY\(\$5::text\[\]\) AND m\.attempts = c\.attempt/m.status = ANY(\$5::text[])/' postgres '^TestStore$/^RenewClaims$'
guard pg-check-fencing postgres/delivery.go 's/WHERE m\.status = ANY\(\$4::text\[\]\) AND m\.attempts = c\.attempt/WHERE m.status = ANY(\$4::text[])/' postgres '^TestStore$/^CheckClaims$'
guard sqlite-release-fencing sqlite/delivery.go 's/WHERE id = \?2 AND attempts = \?3 AND `\+statusIn/WHERE id = ?2 AND ?3 = ?3 AND `+statusIn/' sqlite '^TestStore$/^ReleaseClaims$'
guard pg-release-fencing postgres/delivery.go 's/m\.status = ANY\(\$8::text\[\]\) AND m\.attempts = c\.attempt/m.status = ANY(\$8::text[])/' postgres '^TestStore$/^ReleaseClaims$'
# The stores' lease checks: a leased row is not claimed before its lease
# ends, and a handed-over claim renews only with the deadline it carries.
guard sqlite-claim-lease sqlite/delivery.go "s/AND next_attempt_at <= \\?1 AND/AND (next_attempt_at <= ?1 OR status = 'sending') AND/" sqlite '^TestStore$/^Claim$/expired_lease'
guard pg-claim-lease postgres/delivery.go "s/AND next_attempt_at >= r\\.floor AND next_attempt_at <= \\\$1/AND next_attempt_at >= r.floor AND (next_attempt_at <= \\\$1 OR status = 'sending')/" postgres '^TestStore$/^Claim$/expired_lease'
guard sqlite-renew-lease sqlite/delivery.go 's/AND \(\?3 = 0 OR next_attempt_at = \?3\)/AND (?3 = ?3)/' sqlite '^TestStore$/^RenewHandedOverClaim$'
guard pg-renew-lease postgres/delivery.go 's/\n\t\tAND \(c\.lease_until IS NULL OR m\.next_attempt_at = c\.lease_until\)//' postgres '^TestStore$/^RenewHandedOverClaim$'
guard pg-check-lease postgres/delivery.go 's/\n\tAND \(c\.lease_until IS NULL OR m\.next_attempt_at = c\.lease_until\)\n\tAND EXISTS/\n\tAND EXISTS/' postgres '^TestStore$/^CheckClaims$'
# RabbitMQ mode's consumer: only a first delivery is merely checked, and an
# entry the broker took back gets no call.
guard sched-consumer-redelivered scheduler/handoff_queue.go 's/return !d\.Redelivered \&\& /return /' scheduler '^TestQueueConsumerChecksOnlyAFirstDeliveryWithLeaseToRun$'
guard sched-consumer-held scheduler/handoff_queue.go 's/if held\.Err\(\) != nil \{/if false {/' scheduler '^TestQueueConsumerDoesNotCallForAnEntryTakenBack$'
# The stop gate's "request sent" moment: on HTTP/1 the connection's write, not
# the Transport's buffered WroteRequest; never armed on a shared HTTP/2 one.
guard webhook-sent-on-socket webhook/sent.go 's/if w := http1WireConn\(info\.Conn\); w != nil \{/if w := http1WireConn(info.Conn); false \&\& w != nil {/' webhook '^TestRequestSentHookRunsOnceTheRequestIsOnTheSocket$'
guard webhook-sent-not-h2 webhook/sent.go 's/NegotiatedProtocol == "h2"/NegotiatedProtocol == "none"/' webhook '^TestRequestSentHookOverTLS$'
# Recycled answer channels: never one whose caller gave up (a late answer
# would reach the next caller); handler goroutines are reused.
guard sched-renewer-recycle scheduler/renewer.go 's/\n(\t\treturn ims\.Message\{\}, false, ctx\.Err\(\) \/\/ reply may still be answered)/\n\t\tr.replies.Put(reply)\n$1/' scheduler '^TestRenewerDoesNotRecycleAReplyGivenUpOn$'
guard sched-completer-recycle scheduler/completer.go 's/(\tcase <-ctx\.Done\(\):\n)(\t\treturn ctx\.Err\(\)\n\t\}\n\}\n\n\/\/ run writes)/$1\t\tc.dones.Put(done)\n$2/' scheduler '^TestCompleterDoesNotRecycleAnAnswerGivenUpOn$'
guard rabbitmq-handler-reuse rabbitmq/consume.go 's/\tselect \{\n\tcase c\.tasks <- task:\n\t\treturn\n\tdefault:\n\t\}\n/\tgo task()\n\treturn\n/' rabbitmq '^TestConsumeReusesHandlerGoroutines$'
