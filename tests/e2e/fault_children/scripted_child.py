"""A child process for the daemon's tests whose behaviour each start is scripted.

  python -m tests.e2e.fault_children.scripted_child --heartbeat-file F --interval S --state-dir D
         [--script "0.2:1,1.5:1,hang:0.5"]

Every start appends ``start <pid> <n>`` to D/events (n counts starts, 1-based) and
beats every ``--interval`` seconds (the real ``HeartbeatWriter``). The n-th entry
of ``--script`` says what the n-th start does:

- ``S:C``: run S seconds, then exit with code C;
- ``hang:S``: beat for S seconds, then stop beating without exiting (hung);
- no entry: run until SIGTERM.

On SIGTERM it appends ``sigterm <pid>`` and exits 0. With ``--gap-file F`` it reads the daemon's
gap notice there every ``--interval`` (with the child's own reader) and appends each change:
``gap <pid> <start> <end> <orders>`` or ``trading <pid>``.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from src.core.process.heartbeat import HeartbeatWriter
from src.core.process.session_gap import read_notice


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heartbeat-file", type=Path, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--script", default="")
    parser.add_argument("--gap-file", type=Path, default=None)
    args = parser.parse_args()

    events = args.state_dir / "events"
    stop = threading.Event()

    def on_sigterm(_signum, _frame) -> None:
        with events.open("a") as handle:
            handle.write(f"sigterm {os.getpid()}\n")
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    starts = sum(1 for line in events.read_text().splitlines() if line.startswith("start ")) + 1 \
        if events.exists() else 1
    with events.open("a") as handle:
        handle.write(f"start {os.getpid()} {starts}\n")
    steps = [step for step in args.script.split(",") if step]
    step = steps[starts - 1] if starts <= len(steps) else None

    beating = threading.Event()
    beating.set()
    heartbeat = HeartbeatWriter(args.heartbeat_file, args.interval, probe=beating.is_set)
    heartbeat.start()
    if args.gap_file is not None:
        threading.Thread(target=follow_gaps, args=(args.gap_file, events, args.interval, stop), daemon=True).start()
    if step is None:
        stop.wait()
        return 0
    what, value = step.split(":")
    if what == "hang":
        stop.wait(float(value))
        beating.clear()
        stop.wait()
        return 0
    if stop.wait(float(what)):
        return 0
    return int(value)


def follow_gaps(path: Path, events: Path, interval: float, stop: threading.Event) -> None:
    seen = None
    while not stop.wait(interval):
        notice = read_notice(path)
        if notice is None or notice == seen:
            continue
        seen = notice
        with events.open("a") as handle:
            if notice.in_gap:
                handle.write(f"gap {os.getpid()} {notice.gap.start.isoformat()} {notice.gap.end.isoformat()} "
                             f"{notice.orders}\n")
            else:
                handle.write(f"trading {os.getpid()}\n")


if __name__ == "__main__":
    sys.exit(main())
