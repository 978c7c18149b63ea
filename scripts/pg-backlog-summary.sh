#!/bin/bash
# pg-backlog-summary.sh: summarises what scripts/pg-backlog-evidence.sh
# recorded in OUTDIR: per 30-second window, each IMS statement's count,
# mean and total duration (from the server log), and the share of sampled
# active backends by wait event.
#
#   scripts/pg-backlog-summary.sh OUTDIR
set -euo pipefail
OUT=${1:?usage: pg-backlog-summary.sh OUTDIR}

echo "== statements per 30 s window: count, mean ms, total ms (execute phase)"
grep -a ' execute ' "$OUT/durations.log" | awk '
	{
		split($2, t, ":"); w = sprintf("%s:%02d:%02d", t[1], t[2], int(t[3] / 30) * 30)
		d = $0; sub(/.*duration: /, "", d); sub(/ ms.*/, "", d)
		q = $0; sub(/.*execute [^:]*: /, "", q)
		if (q ~ /ims: claim due/) k = "claim"
		else if (q ~ /ims: record outcomes/) k = "outcome"
		else if (q ~ /count\(\*\) FROM messages GROUP BY status/) k = "count"
		else if (q ~ /ims: create messages/) k = "create"
		else k = "other"
		n[w, k]++; s[w, k] += d; ws[w] = 1; ks[k] = 1
	}
	END {
		nk = split("create claim outcome count other", order, " ")
		printf "%-9s", "window"; for (i = 1; i <= nk; i++) printf " %26s", order[i]; print ""
		m = asorti(ws, sorted)
		for (j = 1; j <= m; j++) {
			w = sorted[j]; printf "%-9s", w
			for (i = 1; i <= nk; i++) {
				k = order[i]
				if (n[w, k]) printf " %6d %8.2f %10.0f", n[w, k], s[w, k] / n[w, k], s[w, k]
				else printf " %26s", "-"
			}
			print ""
		}
	}'

echo "== wait events of active IMS backends (samples every 0.2 s), per statement"
awk -F'|' '$2 != "autovacuum" {print $4 " | " $2 ":" $3}' "$OUT/waits.txt" | sort | uniq -c | sort -rn | head -25
echo "== autovacuum workers seen (samples)"
awk -F'|' '$2 == "autovacuum" {print $4}' "$OUT/waits.txt" | sort | uniq -c | sort -rn | head
