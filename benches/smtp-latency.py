#!/usr/bin/env python3
"""Measure SMTP transaction latency through an MTA on loopback.

Usage: smtp-latency.py PORT MESSAGE_FILE [COUNT]

Sends MESSAGE_FILE COUNT times (default 50), one SMTP connection each, to
127.0.0.1:PORT, and prints the median and worst time of connect+EHLO and of
MAIL..end of DATA, in milliseconds. Run it against an MTA with and without
wormsign attached to see what the milter adds. Line endings are sent as CRLF
(Sendmail rejects bare LF).
"""

import smtplib
import statistics
import sys
import time


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    with open(sys.argv[2], "rb") as handle:
        data = handle.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    count = int(sys.argv[3]) if len(sys.argv) == 4 else 50

    greeting, transaction = [], []
    for _ in range(count):
        start = time.perf_counter()
        client = smtplib.SMTP("127.0.0.1", port, timeout=60)
        client.ehlo("client.example.org")
        greeted = time.perf_counter()
        client.sendmail("sender@example.net", ["alice@probe.test"], data)
        done = time.perf_counter()
        client.quit()
        greeting.append((greeted - start) * 1000)
        transaction.append((done - greeted) * 1000)

    for name, values in (("connect+EHLO", greeting), ("MAIL..DATA", transaction)):
        print(
            f"{name:13} median {statistics.median(values):7.1f} ms"
            f"   max {max(values):7.1f} ms   ({count} messages)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
