#!/usr/bin/env bash
# dnsbl-vs-rbldnsd.sh - query throughput of `wormsign dnsbl` against rbldnsd
# on the same data, measured with dnsperf (Debian package dnsperf).
#
#   bash benches/dnsbl-vs-rbldnsd.sh          # full run: release build,
#                                             # 100,000 IPv4 + 10,000 IPv6 hosts,
#                                             # 20 s per server
#   bash benches/dnsbl-vs-rbldnsd.sh --ci     # small run: debug build (the one
#                                             # `cargo test` made), 1,000 + 100
#                                             # hosts, 2 s per server
#
# Both servers run on 127.0.0.1 on random free high ports and read the same
# SQLite database: wormsign directly, and rbldnsd through `wormsign export
# --format rbldnsd`. Both run under one config ($WORK/wormsign.toml), so they
# apply the same listing policy. The IPv4 hosts are in 11.0.0.0/15, because
# the policy never lists special-purpose ranges such as 198.18.0.0/15
# (benchmarking), and the documentation ranges have only 768 addresses. The
# IPv6 hosts are in 2001:db8::/32 (documentation), which the config allows.
# The database lives in the temporary work directory and is removed at the
# end. The query file mixes listed and unlisted IPv4 A queries, TXT queries
# and IPv6 A queries (see make_queries).
# The script prints one Markdown table row per server and the ratio. rbldnsd
# is single-threaded, and wormsign uses one tokio worker per core.
#
# Needs: cargo, sqlite3, rbldnsd, dnsperf, ss. Run as root (rbldnsd drops to
# the user nobody, so the work directory is made world-readable).
set -euo pipefail
export PATH=/usr/sbin:/sbin:$PATH

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)

MODE=full
[ "${1:-}" = "--ci" ] && MODE=ci
if [ "$MODE" = ci ]; then
    HOSTS4=1000 HOSTS6=100 QUERIES=2000 SECONDS_PER_RUN=2 PROFILE=debug
else
    HOSTS4=100000 HOSTS6=10000 QUERIES=100000 SECONDS_PER_RUN=20 PROFILE=release
fi
ZONE=bl.wormsign.test

die() { echo "dnsbl-vs-rbldnsd: $*" >&2; exit 1; }
for tool in cargo sqlite3 rbldnsd dnsperf ss; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found; tests/run-all.sh installs it"
done

if [ "$PROFILE" = release ]; then
    cargo build --release --quiet
else
    cargo build --quiet
fi
WORMSIGN=$REPO/target/$PROFILE/wormsign

WORK=$(mktemp -d /tmp/dnsbl-bench.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Prints a random port in 10000-32767 that no local UDP or TCP socket uses,
# in any state. The range stays below Linux's default ephemeral ports
# (32768-60999), so an outgoing connection is unlikely to take it meanwhile.
free_port() {
    local port
    for _ in $(seq 50); do
        port=$((10000 + RANDOM % 22768))
        if [ -z "$(ss -Htuan "sport = :$port")" ]; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

# Creates the database with the embedded schema (a scan of the test
# fixtures records three sightings), then adds the generated hosts.
make_database() {
    local db=$1
    "$WORMSIGN" scan --record --database "$db" "$REPO/tests/fixtures/e2e" >/dev/null 2>&1 || true
    [ -s "$db" ] || die "wormsign scan --record did not create $db"
    sqlite3 "$db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $HOSTS4 - 1)
INSERT INTO sightings (seen_at, origin_ip, origin_method, family, rule, confidence, size, evidence)
SELECT CAST(strftime('%s', 'now') AS INTEGER) - 3600 + i % 60,
       '11.' || (i / 65536) || '.' || ((i / 256) % 256) || '.' || (i % 256),
       'connect', 'Sober', 'Sober_bench', 'high', 1000, '{}'
FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $HOSTS6 - 1)
INSERT INTO sightings (seen_at, origin_ip, origin_method, family, rule, confidence, size, evidence)
SELECT CAST(strftime('%s', 'now') AS INTEGER) - 3600 + i % 60,
       printf('2001:db8:%x:%x::1', i / 65536, i % 65536),
       'connect', 'Sober', 'Sober_bench', 'high', 1000, '{}'
FROM n;
SQL
}

# Writes the dnsperf query file: 50% listed IPv4 A, 10% listed IPv4 TXT,
# 30% unlisted IPv4 A (11.1.255.x is beyond the generated hosts), 10% IPv6
# A (half of them listed).
make_queries() {
    awk -v n="$QUERIES" -v h4="$HOSTS4" -v h6="$HOSTS6" -v zone="$ZONE" '
    function v4(i) { return (i % 256) "." (int(i / 256) % 256) "." int(i / 65536) ".11" }
    function v6(i,    hex, out, k) {
        # 2001:db8:A:B::1 reversed: 1, 15 zero nibbles, then B, A, db8, 2001.
        hex = sprintf("20010db8%04x%04x", int(i / 65536), i % 65536)
        out = "1"
        for (k = 0; k < 15; k++) out = out ".0"
        for (k = 16; k >= 1; k--) out = out "." substr(hex, k, 1)
        return out
    }
    BEGIN {
        srand(5782)
        for (q = 0; q < n; q++) {
            r = q % 10
            if (r < 5)       print v4(int(rand() * h4)) "." zone " A"
            else if (r < 6)  print v4(int(rand() * h4)) "." zone " TXT"
            else if (r < 9)  print int(rand() * 256) ".255.1.11." zone " A"
            else             print v6(int(rand() * 2 * h6)) "." zone " A"
        }
    }' >"$1"
}

# Runs dnsperf against 127.0.0.1:PORT; prints "qps average-latency-ms lost"
# and appends dnsperf's response-code line to $WORK/codes.
measure() {
    local port=$1 name=$2 output
    output=$(dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/queries.txt" -l "$SECONDS_PER_RUN" \
        -c 4 -q 100 2>&1) || die "dnsperf failed: $output"
    echo "$name: $(grep 'Response codes:' <<<"$output" | sed 's/^ *//')" >>"$WORK/codes"
    awk '
        /Queries lost:/ { lost = $3 }
        /Queries per second:/ { qps = $4 }
        /Average Latency/ { latency = $4 * 1000 }
        END { printf "%.0f %.3f %s\n", qps, latency, lost }
    ' <<<"$output"
}

# Waits until the server on PORT returns 127.0.0.2 for the RFC 5782 test
# entry; stops early when its process PID has exited.
wait_answering() {
    local port=$1 name=$2 pid=$3
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        if [ "$(dig @127.0.0.1 -p "$port" +short +tries=1 +time=1 "2.0.0.127.$ZONE" A 2>/dev/null)" = 127.0.0.2 ]; then
            return 0
        fi
        sleep 0.1
    done
    die "$name on port $port did not respond; its log:
$(cat "$WORK"/*.log 2>/dev/null | tail -20)"
}

chmod 755 "$WORK"
cat >"$WORK/wormsign.toml" <<TOML
[listing]
list_documentation_ranges = true

[export]
zone = "$ZONE"
nameservers = ["ns1.$ZONE"]
TOML
make_database "$WORK/wormsign.db"
make_queries "$WORK/queries.txt"
"$WORMSIGN" --config "$WORK/wormsign.toml" export --format rbldnsd \
    --database "$WORK/wormsign.db" --output "$WORK/bl.ip4" --output6 "$WORK/bl.ip6" 2>/dev/null
chmod 644 "$WORK"/bl.*

RBL_PORT=$(free_port)
rbldnsd -n -u nobody -b "127.0.0.1/$RBL_PORT" \
    "$ZONE:ip4set:$WORK/bl.ip4" "$ZONE:ip6trie:$WORK/bl.ip6" \
    >"$WORK/rbldnsd.log" 2>&1 &
PIDS+=($!)
RBL_PID=$!
wait_answering "$RBL_PORT" rbldnsd "$RBL_PID"

WS_PORT=$(free_port)
"$WORMSIGN" --config "$WORK/wormsign.toml" dnsbl --database "$WORK/wormsign.db" \
    --listen "127.0.0.1:$WS_PORT" --log warn >"$WORK/wormsign.log" 2>&1 &
PIDS+=($!)
WS_PID=$!
wait_answering "$WS_PORT" "wormsign dnsbl" "$WS_PID"

read -r RBL_QPS RBL_MS RBL_LOST < <(measure "$RBL_PORT" rbldnsd)
read -r WS_QPS WS_MS WS_LOST < <(measure "$WS_PORT" "wormsign dnsbl")

echo "mode $MODE ($PROFILE build), $HOSTS4 IPv4 + $HOSTS6 IPv6 hosts, $QUERIES queries, ${SECONDS_PER_RUN} s per server, $(date -u +%F)"
echo "| server         | queries/s | avg latency ms | lost |"
echo "|----------------|-----------|----------------|------|"
echo "| rbldnsd        | $RBL_QPS | $RBL_MS | $RBL_LOST |"
echo "| wormsign dnsbl | $WS_QPS | $WS_MS | $WS_LOST |"
awk -v w="$WS_QPS" -v r="$RBL_QPS" 'BEGIN { printf "ratio wormsign/rbldnsd: %.2f\n", (r > 0 ? w / r : 0) }'
cat "$WORK/codes"
# Peak and current resident memory of each server (Linux VmHWM, VmRSS).
memory() { awk '/VmHWM|VmRSS/ { printf "%s %s %s  ", $1, $2, $3 } END { print "" }' "/proc/$1/status"; }
echo "rbldnsd memory: $(memory "$RBL_PID")"
echo "wormsign dnsbl memory: $(memory "$WS_PID")"
