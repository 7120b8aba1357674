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
# takes about 0.1 core per order/s here. Prints both builds' rows of each round and the mean
# differences; writes no docs.
set -euo pipefail
ref=${1:?usage: npm run bench:ab -- <git ref> [orders/s] [seconds]}
: "${POSTGRES_URL:?the bench needs POSTGRES_URL (and AMQP_URL)}"
: "${AMQP_URL:?the bench needs AMQP_URL}"
rate=${2:-6}
seconds=${3:-60}
for n in "$rate" "$seconds"; do
  [[ "$n" =~ ^[1-9][0-9]{0,3}$ ]] || { echo "orders/s and seconds are whole numbers from 1 to 9999, not '$n'" >&2; exit 2; }
done
root=$(git rev-parse --show-toplevel)
sha=$(git -C "$root" rev-parse --verify "$ref^{commit}")
base=${TMPDIR:-/tmp}/ecom-ab-$sha
git -C "$root" worktree prune # a checkout whose folder was cleaned away
[ -d "$base" ] || git -C "$root" worktree add --force --detach "$base" "$sha" >/dev/null
# Installed once; the marker says the install finished (a half-done one is done again).
if [ ! -f "$base/node_modules/.ab-installed" ]; then
  (cd "$base" && npm ci --no-audit --no-fund >/dev/null && touch node_modules/.ab-installed)
fi
out=$(mktemp -d)
# Both builds measured the same way: this checkout's saga bench, /proc reader, host probe, money
# check and bench helpers drive the base too (put back at the end), so figures a newer bench
# adds exist on both sides. The money check needs test-support's queryOnce: a base from
# 2026-12-02 (d4bc4f5) on.
cp "$root/services/order/bench/saga-bench.ts" "$base/services/order/bench/saga-bench.ts"
cp "$root/test-support/src/bench.ts" "$base/test-support/src/bench.ts"
for f in proc-cpu.ts host-speed.ts host-speed-probe.ts charge-check.ts; do
  cp "$root/platform/bench/$f" "$base/platform/bench/$f"
done

# Each build walks its own slice of ports (PORT_SLOT), so the two fleets never pick the same.
# The warm-up: 1600 orders at half the bench's rate (two fleets warm up at once; the bench
# alone sends 2400 at 20/s), each build past most of V8's compiling before it is measured.
run() {
  (cd "$1" && PORT_SLOT="$3" BENCH_DOCS=0 SAGA_PLATFORMS=rabbitmq SAGA_RATES="$rate" \
    SAGA_WARMUP_RATE=10 SAGA_WARMUP_SECONDS=160 \
    SAGA_SECONDS="$seconds" SAGA_PROFILE=0 npm run --silent bench -w services/order) >"$2" 2>&1
}

# A failed bench, or Ctrl-C, stops the other one and its fleet too: each bench runs in a
# process group of its own (job control), and the whole group is stopped.
set -m
one=''
two=''
# The base worktree gets its own bench files back however the run ends.
restore() {
  # A base older than BENCH_DOCS writes its own worktree's docs, never this checkout's.
  git -C "$base" checkout -q -- docs services/order/bench platform/bench test-support/src/bench.ts \
    2>/dev/null || true
  # The bench's files a base older than them lacked.
  git -C "$base" clean -fq -- platform/bench 2>/dev/null || true
}
stop() {
  for pid in $one $two; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  restore
}
trap stop EXIT
trap 'stop; exit 130' INT TERM

# Two rounds, the base started first in one and this checkout in the other: whichever starts
# second has measured a few per cent lower on this machine, so each build gets each place once.
for round in 1 2; do
  echo "round $round, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$round" = 1 ]; then first=("$base" base 1) second=("$root" head 2); else first=("$root" head 2) second=("$base" base 1); fi
  run "${first[0]}" "$out/${first[1]}-$round.log" "${first[2]}" &
  one=$!
  sleep 2 # bus namespaces are named by the millisecond
  run "${second[0]}" "$out/${second[1]}-$round.log" "${second[2]}" &
  two=$!
  wait "$one" || { echo "a bench failed: $out/${first[1]}-$round.log"; exit 1; }
  wait "$two" || { echo "a bench failed: $out/${second[1]}-$round.log"; exit 1; }
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$root" && npx tsx platform/bench/saga-ab-compare.ts "$ref" "$out/base-1.log" "$out/head-1.log" "$out/base-2.log" "$out/head-2.log"
