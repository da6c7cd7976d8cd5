#!/usr/bin/env bash
# run-all.sh - the project's test command: bash tests/run-all.sh
#
# Run as root on Debian (bookworm). It
#   1. installs with apt-get what the tests need and is missing: Postfix (unconfigured, no
#      service started) with Cyrus SASL for SMTP AUTH, swaks, dig (dnsutils), sqlite3, npm,
#      named-checkzone (bind9-utils),
#      and m4, liblockfile1 and libwrap0 for Sendmail. tests/mta/sendmail.sh unpacks
#      Sendmail's own packages under target/e2e, because sendmail-bin conflicts with postfix;
#   2. fetches the SpamAssassin public corpus into target/corpus/spamassassin and exports
#      WORMSIGN_SA_CORPUS with its path;
#   3. runs `cargo test --all-targets` (debug profile only); the end-to-end tests drive
#      real Postfix and Sendmail instances on loopback;
#   4. runs `cargo fmt --check` and `cargo clippy --all-targets -- -D warnings`;
#   5. runs the benchmark scripts (benches/) with the debug build on 100 messages, so they
#      keep working; their figures are printed, never checked. clamav-daemon, clamav-milter
#      and clamav are installed for benches/compare-clamav.sh, with freshclam set to manual.
#   6. runs the DNSBL benchmark in its small mode (benches/dnsbl-vs-rbldnsd.sh --ci, dnsperf)
#      so that the script keeps working; its numbers are not checked.
#   7. installs cargo-fuzz from crates.io if missing and runs each fuzz target in fuzz/ for
#      FUZZ_SECONDS (default 30) seconds; a crash fails the run (tests/fuzz.sh).
# Every step is required: a missing tool or a failing step stops the run with a non-zero
# exit status, and no test is skipped.
set -euo pipefail
export PATH=/usr/sbin:/sbin:$PATH

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)

die() { echo "run-all: $*" >&2; exit 1; }
step() { echo "run-all: == $* =="; }

[ "$(id -u)" = 0 ] || die "must run as root: the end-to-end tests start Postfix and Sendmail, and missing tools are installed with apt-get"

# command name -> Debian package that provides it
declare -A PACKAGE_OF=(
    [postfix]=postfix
    [swaks]=swaks
    [dig]=dnsutils
    [sqlite3]=sqlite3
    [npm]=npm
    [m4]=m4
    [unshare]=util-linux
    [flock]=util-linux
    [saslpasswd2]=sasl2-bin
    [rbldnsd]=rbldnsd
    [clamd]=clamav-daemon
    [clamav-milter]=clamav-milter
    [clamscan]=clamav
    [dnsperf]=dnsperf
    [ss]=iproute2
    [named-checkzone]=bind9-utils
    [g++]=g++
)

install_missing() {
    local need=() tool
    for tool in "${!PACKAGE_OF[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || need+=("${PACKAGE_OF[$tool]}")
    done
    # Shared libraries the unpacked sendmail binary links against.
    dpkg -s liblockfile1 >/dev/null 2>&1 || need+=(liblockfile1)
    dpkg -s libwrap0 >/dev/null 2>&1 || need+=(libwrap0)
    # PLAIN and LOGIN for Postfix's SMTP AUTH (PF_SASL_USERS in tests/mta/postfix.sh).
    dpkg -s libsasl2-modules >/dev/null 2>&1 || need+=(libsasl2-modules)
    [ ${#need[@]} -eq 0 ] && return 0
    mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
    echo "run-all: installing ${need[*]}"
    # 'No configuration' makes Debian write no /etc/postfix/main.cf and start no service.
    printf '%s\n' 'postfix postfix/main_mailer_type select No configuration' \
                  'postfix postfix/mailname string localhost' \
                  'clamav-freshclam clamav-freshclam/autoupdate_freshclam select manual' \
        | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null
}

check_tools() {
    local tool missing=()
    for tool in "${!PACKAGE_OF[@]}" cargo rustfmt cargo-clippy; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] || die "still missing after installation: ${missing[*]}"
}

step "tools"
install_missing
check_tools
bash tests/mta/postfix.sh install
bash tests/mta/sendmail.sh install

step "SpamAssassin corpus"
export WORMSIGN_SA_CORPUS=$REPO/target/corpus/spamassassin
bash tests/corpus/fetch-spamassassin.sh "$WORMSIGN_SA_CORPUS"

step "cargo test --all-targets"
cargo test --all-targets

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "benchmark scripts on 100 messages (debug build, figures not checked)"
WORMSIGN_BIN=$REPO/target/debug/wormsign MESSAGES=100 \
    bash benches/compare-clamav.sh "$WORMSIGN_SA_CORPUS/easy-ham-1"
WORMSIGN_BIN=$REPO/target/debug/wormsign SESSIONS=50 HOLD=500 \
    bash benches/sessions-rss.sh "$WORMSIGN_SA_CORPUS/easy-ham-1"
step "benches/dnsbl-vs-rbldnsd.sh --ci"
bash benches/dnsbl-vs-rbldnsd.sh --ci
step "fuzz targets"
bash tests/fuzz.sh

echo "run-all: all steps passed"
