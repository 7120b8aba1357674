#!/usr/bin/env bash
# Two builds side by side: the order saga bench of this checkout and of another commit, run at
# the same time at the same offered rate over RabbitMQ, each platform in its own processes,
# databases and bus namespace. Whatever else the machine does meanwhile (a slower hour, another
# job) falls on both alike, so a difference of a few per cent shows, where runs one after the
# other differ by up to 20 % on this kind of machine (docs/benchmarks.md, "A/B").
#
#   npm run bench:ab -- <git ref> [orders/s, default 6] [seconds, default 60]
#
# The other commit is checked out once into $TMPDIR/ecom-ab-<sha> (kept for the next run; remove
# it with `git worktree remove`). Keep the rate low enough for both platforms together: each
# takes about 0.1 core per order/s here. Prints both rows and the differences; writes no docs.
set -euo pipefail
ref=${1:?usage: npm run bench:ab -- <git ref> [orders/s] [seconds]}
: "${POSTGRES_URL:?the bench needs POSTGRES_URL (and AMQP_URL)}"
: "${AMQP_URL:?the bench needs AMQP_URL}"
rate=${2:-6}
seconds=${3:-60}
root=$(git rev-parse --show-toplevel)
sha=$(git -C "$root" rev-parse --verify "$ref^{commit}")
base=${TMPDIR:-/tmp}/ecom-ab-$sha
[ -d "$base" ] || git -C "$root" worktree add --detach "$base" "$sha" >/dev/null
[ -d "$base/node_modules" ] || (cd "$base" && npm ci --no-audit --no-fund >/dev/null)
out=$(mktemp -d)

run() {
  (cd "$1" && BENCH_DOCS=0 SAGA_PLATFORMS=rabbitmq SAGA_RATES="$rate" SAGA_SECONDS="$seconds" \
    SAGA_PROFILE=0 npm run --silent bench -w services/order) >"$2" 2>&1
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run "$base" "$out/base.log" &
first=$!
sleep 2 # bus namespaces are named by the millisecond
run "$root" "$out/head.log" &
second=$!
wait "$first" || { echo "the bench of $ref failed: $out/base.log"; exit 1; }
wait "$second" || { echo "the bench of this checkout failed: $out/head.log"; exit 1; }
# A base older than BENCH_DOCS writes its own worktree's docs, never this checkout's.
git -C "$base" checkout -q -- docs 2>/dev/null || true
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$root" && npx tsx platform/bench/saga-ab-compare.ts "$out/base.log" "$out/head.log" "$ref"
