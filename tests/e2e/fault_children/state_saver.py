"""A process that saves strategy states in a loop until it is killed, for the kill -9 test.

Run as ``python -m tests.e2e.fault_children.state_saver STRATEGY`` with ``VNPY_DATABASE_*``
set. It imports everything once and then, as a fork server, takes commands on stdin:

  fork        fork a saver; prints ``child PID``. The saver opens its own connection,
              loads the newest good state, checks it is whole (every row carries the
              counter, the digest matches), prints ``loaded COUNTER CORRUPTION_EVENTS``
              (or ``torn REASON`` and exits 4), then saves counter+1, counter+2, ...
              printing ``saved N`` after each save returns.
  reap PID    waits for that saver to die; prints ``reaped PID EXIT_CODE``.
  quit

Forking from a process that has already imported vnpy, peewee and numpy makes a
restart take milliseconds instead of a second, so 50 kills fit in a few seconds.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys

from src.core.database_factory import create_state_repository

ROWS = 1_400  # about 100 KB of JSON
KEEP = 5


def make_state(counter: int) -> dict:
    rows = [{"row": index, "counter": counter, "value": (counter * 7919 + index * 104729) % 1_000_003 / 7.0}
            for index in range(ROWS)]
    return {"counter": counter, "rows": rows, "digest": digest(counter, rows)}


def digest(counter: int, rows: list) -> str:
    return hashlib.sha256(json.dumps([counter, rows], sort_keys=True).encode()).hexdigest()


def torn(state: dict) -> str | None:
    """Why a loaded state is not one whole saved state, or None."""
    counter = state.get("counter")
    rows = state.get("rows")
    if not isinstance(counter, int) or not isinstance(rows, list) or len(rows) != ROWS:
        return f"bad shape: counter={counter!r}, {len(rows) if isinstance(rows, list) else rows!r} rows"
    if any(row.get("counter") != counter for row in rows):
        return f"rows of another counter than {counter}"
    if state.get("digest") != digest(counter, rows):
        return f"digest mismatch at counter {counter}"
    return None


def say(line: str) -> None:
    os.write(sys.stdout.fileno(), (line + "\n").encode())


def run_saver(strategy: str) -> None:
    repository = create_state_repository(keep=KEEP)
    state = repository.load(strategy)
    counter = 0
    if state is not None:
        problem = torn(state)
        if problem is not None:
            say(f"torn {problem}")
            os._exit(4)
        counter = state["counter"]
    say(f"loaded {counter} {len(repository.pop_events())}")
    while True:
        counter += 1
        repository.save(strategy, make_state(counter))
        say(f"saved {counter}")


def main() -> None:
    strategy = sys.argv[1]
    say("ready")
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        if command[0] == "fork":
            pid = os.fork()
            if pid == 0:
                try:
                    run_saver(strategy)
                except BaseException as error:  # report, never fall back into the fork server's loop
                    say(f"failed {type(error).__name__}: {error}")
                finally:
                    os._exit(3)
            say(f"child {pid}")
        elif command[0] == "reap":
            pid = int(command[1])
            _, status = os.waitpid(pid, 0)
            say(f"reaped {pid} {os.waitstatus_to_exitcode(status)}")
        elif command[0] == "quit":
            break


if __name__ == "__main__":
    main()
