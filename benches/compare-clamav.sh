#!/usr/bin/env bash
# compare-clamav.sh - wormsign, clamav-milter and the null milter side by side, driven by
# `wormsign bench` on the same corpus, over a Unix socket and over TCP, in one run.
#
#   bash benches/compare-clamav.sh [CORPUS]
#
# CORPUS defaults to target/corpus/spamassassin/easy-ham-1 (tests/corpus/fetch-spamassassin.sh
# fetches it). Environment: CONCURRENCY (default 16), MESSAGES (default: the corpus once),
# WORMSIGN_BIN (default target/release/wormsign, built with cargo build --release).
#
# Run as root on Debian. It installs clamav, clamav-daemon and clamav-milter with apt-get
# when they are missing, with freshclam set to manual updates. Nothing here contacts the
# network. clamd starts with a private config whose database directory contains only the
# wormsign YARA rules that clamd can load; the others are listed. Every daemon listens on a
# socket under a temporary directory or on 127.0.0.1, and all of them are stopped at exit.
#
# The milters under test:
#   null      `wormsign run --null`: accepts every message, analyses nothing (the ceiling)
#   null-rps  the same null milter, but the generator offers no no-reply options, so it
#             replies to every stage (the ceiling before no-reply negotiation)
#   wormsign  `wormsign run` with the embedded rules, action accept
#   clamav    clamav-milter 1.4 (Debian's OnInfected Quarantine, AddHeader Replace) on clamd
# Output: one JSON line per run, then one table with the ratios. A figure never makes the
# script fail; a milter that errors on a message does (see the errors column).
set -euo pipefail
export PATH=/usr/sbin:/sbin:$PATH

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
CORPUS=${1:-$REPO/target/corpus/spamassassin/easy-ham-1}
CONCURRENCY=${CONCURRENCY:-16}
MESSAGES=${MESSAGES:-}
BIN=${WORMSIGN_BIN:-$REPO/target/release/wormsign}

die() { echo "compare-clamav: $*" >&2; exit 1; }
say() { echo "compare-clamav: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root: it installs clamav with apt-get"
[ -e "$CORPUS" ] || die "corpus $CORPUS not found: fetch it with tests/corpus/fetch-spamassassin.sh target/corpus/spamassassin"
[ -x "$BIN" ] || die "$BIN not found: run cargo build --release, or set WORMSIGN_BIN"

install_clamav() {
    command -v clamd >/dev/null && command -v clamav-milter >/dev/null && command -v clamscan >/dev/null && return 0
    say "installing clamav, clamav-daemon and clamav-milter"
    # Manual updates: the package must not start a freshclam daemon that downloads databases.
    echo 'clamav-freshclam clamav-freshclam/autoupdate_freshclam select manual' | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
        --no-install-recommends clamav clamav-daemon clamav-milter >/dev/null
}

WORK=$(mktemp -d /tmp/wormsign-compare.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until $1 (a socket file, or a TCP port on 127.0.0.1) accepts connections, reading
# /proc/net/tcp for a port so that no milter session is opened to find out.
wait_ready() {
    local target=$1 log=$2 i
    for i in $(seq 1 600); do
        if [[ $target == /* ]]; then
            [ -S "$target" ] && return 0
        else
            grep -qi " 0100007F:$(printf '%04X' "$target") 00000000:0000 0A" /proc/net/tcp && return 0
        fi
        sleep 0.1
    done
    cat "$log" >&2
    die "nothing listens on $target after 60 s (log above)"
}

# Splits the rule files into one file per rule, keeps those clamscan loads, lists the others.
prepare_clamav_rules() {
    mkdir -p "$WORK/split" "$WORK/db"
    python3 - "$WORK/split" "$REPO"/signatures/*.yar <<'PY'
import re, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8").read()
    for match in re.finditer(r"^rule (\w+)\s*\n\{.*?^\}", text, re.S | re.M):
        with open(f"{out}/{match.group(1)}.yar", "w", encoding="utf-8") as f:
            f.write(match.group(0) + "\n")
PY
    : > "$WORK/empty"
    local rule name output loaded=0 rejected=0
    for rule in "$WORK"/split/*.yar; do
        name=$(basename "$rule" .yar)
        output=$(clamscan --no-summary -d "$rule" "$WORK/empty" 2>&1 || true)
        if grep -q "LibClamAV Error\|failed to parse" <<<"$output"; then
            echo "clamd rejects rule $name: $(grep -m1 'LibClamAV Error' <<<"$output" | sed 's/^.*yyerror(): //')"
            rejected=$((rejected + 1))
        else
            cp "$rule" "$WORK/db/"
            loaded=$((loaded + 1))
        fi
    done
    say "clamd loads $loaded of $((loaded + rejected)) wormsign rules"
    [ "$loaded" -gt 0 ] || die "clamd loads none of the rules"
}

start_clamav() {
    local milter_socket=$1 name=$2
    cat > "$WORK/$name.conf" <<CONF
MilterSocket $milter_socket
ClamdSocket unix:$WORK/clamd.sock
Foreground yes
PidFile $WORK/$name.pid
LogFile $WORK/$name.log
OnInfected Quarantine
AddHeader Replace
ReadTimeout 120
CONF
    clamav-milter --config-file="$WORK/$name.conf" >"$WORK/$name.out" 2>&1 &
    PIDS+=($!)
}

start_clamd() {
    mkdir -p "$WORK/clamd-tmp"
    cat > "$WORK/clamd.conf" <<CONF
Foreground yes
LocalSocket $WORK/clamd.sock
DatabaseDirectory $WORK/db
TemporaryDirectory $WORK/clamd-tmp
PidFile $WORK/clamd.pid
LogFile $WORK/clamd.log
Bytecode no
CONF
    clamd --config-file="$WORK/clamd.conf" >"$WORK/clamd.out" 2>&1 &
    PIDS+=($!)
    wait_ready "$WORK/clamd.sock" "$WORK/clamd.log"
}

start_wormsign() {
    local listen=$1 name=$2 extra=${3:-}
    cat > "$WORK/$name.toml" <<CONF
listen = "$listen"
database = "$WORK/$name.db"
action = "accept"
CONF
    # shellcheck disable=SC2086
    "$BIN" run --config "$WORK/$name.toml" $extra --log warn >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
}

install_clamav
prepare_clamav_rules
start_clamd

TCP_WORMSIGN=$(free_port); TCP_NULL=$(free_port); TCP_CLAMAV=$(free_port)
start_wormsign "unix:$WORK/wormsign.sock" wormsign-unix
start_wormsign "inet:127.0.0.1:$TCP_WORMSIGN" wormsign-tcp
start_wormsign "unix:$WORK/null.sock" null-unix --null
start_wormsign "inet:127.0.0.1:$TCP_NULL" null-tcp --null
start_clamav "unix:$WORK/clamav.sock" clamav-unix
start_clamav "inet:$TCP_CLAMAV@127.0.0.1" clamav-tcp
wait_ready "$WORK/wormsign.sock" "$WORK/wormsign-unix.log"
wait_ready "$TCP_WORMSIGN" "$WORK/wormsign-tcp.log"
wait_ready "$WORK/null.sock" "$WORK/null-unix.log"
wait_ready "$TCP_NULL" "$WORK/null-tcp.log"
wait_ready "$WORK/clamav.sock" "$WORK/clamav-unix.out"
wait_ready "$TCP_CLAMAV" "$WORK/clamav-tcp.out"

declare -A SOCKET=(
    [unix/null]="unix:$WORK/null.sock"
    [unix/null-rps]="unix:$WORK/null.sock"
    [unix/wormsign]="unix:$WORK/wormsign.sock"
    [unix/clamav]="unix:$WORK/clamav.sock"
    [tcp/null]="inet:127.0.0.1:$TCP_NULL"
    [tcp/null-rps]="inet:127.0.0.1:$TCP_NULL"
    [tcp/wormsign]="inet:127.0.0.1:$TCP_WORMSIGN"
    [tcp/clamav]="inet:127.0.0.1:$TCP_CLAMAV"
)
ARGS=(--corpus "$CORPUS" --concurrency "$CONCURRENCY" --json)
[ -n "$MESSAGES" ] && ARGS+=(--messages "$MESSAGES")

say "corpus $CORPUS, concurrency $CONCURRENCY, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$WORK/results"
failed=0
for kind in unix tcp; do
    for milter in null null-rps wormsign clamav; do
        extra=()
        [ "$milter" = null-rps ] && extra=(--reply-every-stage)
        # A short warm-up fills the page cache and the milters' lazy state.
        "$BIN" bench --socket "${SOCKET[$kind/$milter]}" "${ARGS[@]}" --messages 200 "${extra[@]}" >/dev/null 2>&1 || true
        if ! result=$("$BIN" bench --socket "${SOCKET[$kind/$milter]}" "${ARGS[@]}" "${extra[@]}"); then
            failed=1
        fi
        echo "$kind $milter $result" | tee -a "$WORK/results"
    done
done

python3 - "$WORK/results" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    kind, milter, text = line.split(" ", 2)
    rows[(kind, milter)] = json.loads(text)
print()
print(f"{'socket':6} {'milter':9} {'msgs/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}")
for (kind, milter), r in rows.items():
    l = r["latency_ms"]
    print(f"{kind:6} {milter:9} {r['msgs_per_sec']:8.0f} {l['p50']:8.2f} {l['p95']:8.2f} {l['p99']:8.2f} {l['max']:8.2f} {r['errors']:6}")
print()
for kind in ("unix", "tcp"):
    w, c, n, rps = (rows[(kind, m)] for m in ("wormsign", "clamav", "null", "null-rps"))
    def ratio(a, b):
        return a / b if b else float("inf")
    print(f"{kind}: wormsign/clamav-milter {ratio(w['msgs_per_sec'], c['msgs_per_sec']):.2f}x msgs/s, "
          f"wormsign/null {100 * ratio(w['msgs_per_sec'], n['msgs_per_sec']):.0f}% of the ceiling, "
          f"p99 wormsign/null {ratio(w['latency_ms']['p99'], n['latency_ms']['p99']):.2f}x, "
          f"worst wormsign message {w['latency_ms']['max']:.1f} ms; "
          f"no-reply gain on the null milter {ratio(n['msgs_per_sec'], rps['msgs_per_sec']):.2f}x msgs/s")
PY
exit "$failed"
