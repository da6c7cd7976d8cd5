#!/usr/bin/env bash
# sendmail.sh - run a private, loopback-only Sendmail 8.17 (Debian bookworm) for the milter's
# end-to-end tests.
#
#   sendmail.sh [start|stop|install]        (default: start)
#
# "install" only unpacks Sendmail and its dependencies, so a test run can do that up front.
# Environment (defaults in brackets):
#   SM_DIR              [/tmp/wormsign-e2e/sendmail]  instance root (config, queue, maildirs)
#   SM_PORT             [2526]                        SMTP port on 127.0.0.1
#   SM_MILTER           [inet:127.0.0.1:7357]         milter socket: inet:HOST:PORT as Postfix
#                                                     writes it, or Sendmail's inet:PORT@HOST,
#                                                     or unix:PATH (empty: no milter)
#   SM_MILTER_DEFAULT   [accept]                      when the milter is unreachable: accept,
#                                                     tempfail or reject (Sendmail's F= flag)
#   SM_ROOT             [<repo>/target/e2e/sendmail-root]  where the Sendmail packages are unpacked,
#                                                     shared by all instances
# Mail to <user>@probe.test lands in $SM_DIR/mail/<user>/new/, one file per message.
# Sendmail logs nothing here, because the machine has no syslog.
#
# The sendmail-bin package conflicts with postfix, so its .deb is only unpacked
# (dpkg-deb -x) under $SM_ROOT and never installed. Idempotent: "start" stops a previous
# instance in $SM_DIR, rewrites the configuration and starts again. Needs root.
set -euo pipefail
export PATH=/usr/sbin:/sbin:$PATH

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SM_DIR=${SM_DIR:-/tmp/wormsign-e2e/sendmail}
SM_PORT=${SM_PORT:-2526}
SM_MILTER=${SM_MILTER-inet:127.0.0.1:7357}
SM_MILTER_DEFAULT=${SM_MILTER_DEFAULT:-accept}
SM_ROOT=${SM_ROOT:-$REPO/target/e2e/sendmail-root}
SM=$SM_ROOT/usr/libexec/sendmail/sendmail
CF_DIR=$SM_ROOT/usr/share/sendmail/cf
RUN=$SM_DIR/run
# Every sendmail call sleeps 60 s ("My unqualified host name (...) unknown") when the node
# name has no FQDN in /etc/hosts, so it runs in its own UTS namespace with an FQDN.
HOSTNAME_FQDN=mta2.probe.test

die() { echo "sendmail.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (sendmail binds and drops privileges as root)"
case "$SM_DIR" in /*) ;; *) die "SM_DIR=$SM_DIR must be an absolute path" ;; esac
case "$SM_PORT" in ''|*[!0-9]*) die "SM_PORT=$SM_PORT is not a port number" ;; esac

stop() {
    local pid
    pid=$(cat "$RUN/daemon.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

# Converts $SM_MILTER to Sendmail's socket syntax and rejects any address but loopback.
milter_socket() {
    local spec=$1 rest host port
    case "$spec" in
    unix:*|local:*) echo "$spec" ;;
    inet:*@*)
        host=${spec#*@}
        case "$host" in 127.*) echo "$spec" ;; *) die "SM_MILTER=$spec is not a loopback address" ;; esac ;;
    inet:*:*)
        rest=${spec#inet:}
        host=${rest%:*}
        port=${rest##*:}
        case "$host" in 127.*) echo "inet:$port@$host" ;; *) die "SM_MILTER=$spec is not a loopback address" ;; esac ;;
    *) die "SM_MILTER=$spec: expected inet:HOST:PORT, inet:PORT@HOST or unix:PATH" ;;
    esac
}

milter_flags() {
    case "$SM_MILTER_DEFAULT" in
    accept) echo "" ;;
    tempfail) echo "F=T, " ;;
    reject) echo "F=R, " ;;
    *) die "SM_MILTER_DEFAULT=$SM_MILTER_DEFAULT: expected accept, tempfail or reject" ;;
    esac
}

install_if_missing() {
    [ -x "$SM" ] && [ -f "$CF_DIR/m4/cf.m4" ] && return 0
    (
        flock 9
        [ -x "$SM" ] && [ -f "$CF_DIR/m4/cf.m4" ] && exit 0
        echo "sendmail.sh: unpacking sendmail-bin and sendmail-cf into $SM_ROOT"
        export DEBIAN_FRONTEND=noninteractive
        # Runtime dependencies of sendmail-bin that a fresh machine lacks. None of them
        # conflicts with postfix.
        if ! dpkg -s m4 liblockfile1 libwrap0 >/dev/null 2>&1; then
            apt-get update -q >/dev/null
            apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends \
                m4 liblockfile1 libwrap0 >/dev/null
        fi
        local debs
        debs=$(mktemp -d)
        # apt-get download needs package lists; a fresh machine may have none yet.
        if ! (cd "$debs" && apt-get download -q sendmail-bin sendmail-cf >/dev/null 2>&1); then
            apt-get update -q >/dev/null
            (cd "$debs" && apt-get download -q sendmail-bin sendmail-cf >/dev/null)
        fi
        rm -rf "$SM_ROOT"
        mkdir -p "$SM_ROOT"
        for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$SM_ROOT"; done
        rm -rf "$debs"
    ) 9>/tmp/wormsign-e2e-apt.lock
    [ -x "$SM" ] || die "sendmail binary missing at $SM after unpacking"
}

write_config() {
    local milter_line=""
    if [ -n "$SM_MILTER" ]; then
        milter_line="INPUT_MAIL_FILTER(\`wormsign', \`S=$(milter_socket "$SM_MILTER"), $(milter_flags)T=C:5s;S:10s;R:10s;E:30s')dnl"
    fi
    cat > "$RUN/test.mc" <<MC
divert(0)dnl
VERSIONID(\`wormsign tests')dnl
dnl Debian's OSTYPE(linux) would force procmail as the local mailer.
define(\`__OSTYPE__', \`wormsign-tests')dnl
define(\`confEBINDIR', \`/usr/sbin')dnl
define(\`confDOMAIN_NAME', \`$HOSTNAME_FQDN')dnl
define(\`QUEUE_DIR', \`$RUN/queue')dnl
define(\`ALIAS_FILE', \`$RUN/aliases')dnl
define(\`STATUS_FILE', \`$RUN/statistics')dnl
define(\`confPID_FILE', \`$RUN/sendmail.pid')dnl
define(\`confCW_FILE', \`-o $RUN/local-host-names')dnl
define(\`confSERVICE_SWITCH_FILE', \`$RUN/service.switch')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confDELIVERY_MODE', \`background')dnl
define(\`confDONT_BLAME_SENDMAIL', \`GroupWritableDirPathSafe,TrustStickyBit')dnl
define(\`confDEF_USER_ID', \`nobody:nogroup')dnl
define(\`LOCAL_MAILER_PATH', \`$SM_DIR/deliver')dnl
define(\`LOCAL_MAILER_ARGS', \`deliver \$u')dnl
define(\`LOCAL_MAILER_FLAGS', \`Pn9')dnl
MODIFY_MAILER_FLAGS(\`LOCAL', \`-w')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`no_default_msa')dnl
LOCAL_DOMAIN(\`probe.test')dnl
DAEMON_OPTIONS(\`Port=$SM_PORT, Addr=127.0.0.1, Name=sendmail-test')dnl
$milter_line
define(\`confMILTER_MACROS_CONNECT', \`j, _, {daemon_name}, {if_name}, {if_addr}, {client_addr}, {client_name}, {client_port}, {client_ptr}, {client_resolve}')dnl
define(\`confMILTER_MACROS_ENVFROM', \`i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, {mail_addr}')dnl
define(\`confMILTER_MACROS_ENVRCPT', \`i, {rcpt_mailer}, {rcpt_host}, {rcpt_addr}')dnl
define(\`confMILTER_MACROS_EOM', \`i, {msg_id}')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MC
    m4 -D_CF_DIR_="$CF_DIR/" "$CF_DIR/m4/cf.m4" "$RUN/test.mc" > "$RUN/sendmail.cf"
    printf 'hosts files\naliases files\n' > "$RUN/service.switch"   # never DNS
    printf 'postmaster: root\n' > "$RUN/aliases"
    : > "$RUN/local-host-names"
}

write_deliver() {
    # Local mailer, run as nobody with argv "deliver <user>": one file per message.
    cat > "$SM_DIR/deliver" <<SH
#!/bin/sh
d=$SM_DIR/mail/\$1/new
mkdir -p "\$d" || exit 73
f="\$d/\$(date +%s.%N).\$\$"
cat > "\$f.tmp" && mv "\$f.tmp" "\$f" || exit 74
SH
    chmod 755 "$SM_DIR/deliver"
}

in_uts_namespace() { unshare --uts sh -c 'hostname "$0"; exec "$@"' "$HOSTNAME_FQDN" "$@"; }

# Waits until sendmail listens, read from /proc/net/tcp: a test connection would open a
# milter session.
wait_listen() {
    local hex pid
    hex=$(printf '%04X' "$SM_PORT")
    pid=$(cat "$RUN/daemon.pid")
    for _ in $(seq 1 100); do
        grep -qE "^ *[0-9]+: 0100007F:$hex [0-9A-F]{8}:0000 0A" /proc/net/tcp && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$RUN/daemon.out" >&2; die "the sendmail daemon exited"; }
        sleep 0.1
    done
    cat "$RUN/daemon.out" >&2
    die "sendmail is not listening on 127.0.0.1:$SM_PORT"
}

cmd=${1:-start}
case "$cmd" in
start) ;;
stop) stop; echo "sendmail.sh: stopped"; exit 0 ;;
install) install_if_missing; exit 0 ;;
*) die "usage: $0 [start|stop|install]" ;;
esac

command -v unshare >/dev/null 2>&1 || die "unshare not found: install util-linux"
install_if_missing
stop
rm -rf "$RUN" "$SM_DIR/mail"
mkdir -p "$RUN/queue" "$SM_DIR/mail"
# The local mailer runs as nobody and must reach $SM_DIR/deliver and the maildirs.
chmod 755 "$SM_DIR"
chmod 700 "$RUN/queue"
chmod 1777 "$SM_DIR/mail"
write_deliver
write_config
in_uts_namespace "$SM" -C "$RUN/sendmail.cf" -bi >/dev/null   # newaliases
# -bD: daemon in the foreground. This is a plain command, not the function, so that $! is
# the pid of unshare, which like sh execs into sendmail.
unshare --uts sh -c 'hostname "$0"; exec "$@"' "$HOSTNAME_FQDN" "$SM" -C "$RUN/sendmail.cf" -bD -q1m \
    > "$RUN/daemon.out" 2>&1 &
echo $! > "$RUN/daemon.pid"
wait_listen
echo "sendmail.sh: pid $(cat "$RUN/daemon.pid") listening on 127.0.0.1:$SM_PORT, milter ${SM_MILTER:-none}, default action $SM_MILTER_DEFAULT"
echo "sendmail.sh: mail for <user>@probe.test goes to $SM_DIR/mail/<user>/new/"
