#!/usr/bin/env bash
# sessions-rss.sh - resident memory of `wormsign run` with many milter sessions open at once.
#
#   bash benches/sessions-rss.sh [CORPUS]
#
# Starts `wormsign run` (embedded rules, default limits) on a Unix socket under a temporary
# directory, then `wormsign bench --concurrency SESSIONS --messages SESSIONS --hold-ms HOLD`.
# Every connection sends its message up to the end of the body and waits HOLD ms before end
# of message, so SESSIONS sessions are open together, each holding its message. The script
# samples the milter's VmRSS from /proc every 100 ms and prints the largest sample and the
# kernel's peak (VmHWM). Environment: SESSIONS (default 500), HOLD (default 4000),
# WORMSIGN_BIN (default target/release/wormsign). CORPUS defaults to
# target/corpus/spamassassin/easy-ham-1.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
CORPUS=${1:-$REPO/target/corpus/spamassassin/easy-ham-1}
SESSIONS=${SESSIONS:-500}
HOLD=${HOLD:-4000}
BIN=${WORMSIGN_BIN:-$REPO/target/release/wormsign}

die() { echo "sessions-rss: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN not found: run cargo build --release, or set WORMSIGN_BIN"
[ -e "$CORPUS" ] || die "corpus $CORPUS not found"

WORK=$(mktemp -d /tmp/wormsign-rss.XXXXXX)
MILTER=
cleanup() {
    [ -n "$MILTER" ] && kill "$MILTER" 2>/dev/null && wait "$MILTER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/wormsign.toml" <<CONF
listen = "unix:$WORK/wormsign.sock"
database = "$WORK/wormsign.db"
max_sessions = $SESSIONS
CONF
"$BIN" run --config "$WORK/wormsign.toml" --log warn >"$WORK/wormsign.log" 2>&1 &
MILTER=$!
for _ in $(seq 1 300); do
    [ -S "$WORK/wormsign.sock" ] && break
    sleep 0.1
done
[ -S "$WORK/wormsign.sock" ] || { cat "$WORK/wormsign.log" >&2; die "wormsign did not start"; }

status_kib() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$MILTER/status"; }
idle=$(status_kib VmRSS)
"$BIN" bench --socket "unix:$WORK/wormsign.sock" --corpus "$CORPUS" --json \
    --concurrency "$SESSIONS" --messages "$SESSIONS" --hold-ms "$HOLD" >"$WORK/bench.json" &
BENCH=$!
max=0
while kill -0 "$BENCH" 2>/dev/null; do
    rss=$(status_kib VmRSS)
    [ "${rss:-0}" -gt "$max" ] && max=$rss
    sleep 0.1
done
wait "$BENCH" || die "wormsign bench failed: $(cat "$WORK/bench.json")"
echo "sessions $SESSIONS, hold $HOLD ms, corpus $CORPUS"
echo "bench: $(cat "$WORK/bench.json")"
echo "wormsign VmRSS idle ${idle} KiB, largest sample ${max} KiB, peak VmHWM $(status_kib VmHWM) KiB"
