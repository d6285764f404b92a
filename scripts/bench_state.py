"""Median latency of saving and loading a 1 MB strategy state: StateRepository vs. a plain JSON file.

    .venv/bin/python scripts/bench_state.py [--rounds 30] [--size-mb 1.0]

The baseline is what a hand-rolled state file would do: ``json.dumps``, write a
temporary file, fsync it, ``os.replace`` it over the old one; and read + ``json.loads``.
StateRepository adds the tagged encoding, a sha256 checksum, a database transaction
(insert + prune of old snapshots) and, on load, the checksum check. It runs on an SQLite
file beside the baseline's file (WAL, synchronous=FULL) and, when ``TEST_MYSQL_HOST``
(and the other ``TEST_MYSQL_*``) are set, on that MySQL database (tables emptied first).
The target is at most 1.5x the baseline on SQLite.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation, open_database  # noqa: E402
from src.strategy.infrastructure.persistence.state_repository import StateRepository  # noqa: E402

STRATEGY = "bench"


def make_state(size_bytes: int) -> dict:
    """A plain-JSON state shaped like a strategy's: positions, orders and a bar history per symbol."""
    bars = []
    state = {"counter": 0, "positions": {}, "orders": [], "bars": bars}
    for index in range(200):
        state["positions"][f"IO2403-C-{3000 + index * 25}.CFFEX"] = {
            "volume": -(index % 5), "price": 35.2 + index, "opened": "2024-03-01T09:31:00+08:00"}
    index = 0
    while len(json.dumps(state)) < size_bytes:
        bars.append({"vt_symbol": "IF2403.CFFEX", "datetime": f"2024-03-01T{9 + index // 60 % 6:02d}:{index % 60:02d}",
                     "open": 3500.2 + index % 17, "high": 3510.4, "low": 3490.0 + index % 5, "close": 3501.6,
                     "volume": 120 + index, "signal": "SELL_PUT" if index % 9 == 0 else None})
        index += 1
    return state


def median_ms(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def bench_file(folder: Path, state: dict, rounds: int) -> tuple[float, float]:
    target = folder / "state.json"

    def save() -> None:
        state["counter"] += 1
        temporary = folder / "state.json.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(state))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)

    def load() -> dict:
        with open(target, encoding="utf-8") as handle:
            return json.loads(handle.read())

    save_ms = median_ms(save, rounds)
    assert load()["counter"] == state["counter"]
    return save_ms, median_ms(load, rounds)


def bench_repository(location: DatabaseLocation, state: dict, rounds: int) -> tuple[float, float]:
    repository = StateRepository.open(location)

    def save() -> None:
        state["counter"] += 1
        repository.save(STRATEGY, state)

    save_ms = median_ms(save, rounds)
    assert repository.load(STRATEGY)["counter"] == state["counter"]
    load_ms = median_ms(lambda: repository.load(STRATEGY), rounds)
    repository.close()
    return save_ms, load_ms


def mysql_location() -> DatabaseLocation | None:
    if not os.environ.get("TEST_MYSQL_HOST"):
        return None
    location = DatabaseLocation.mysql(os.environ["TEST_MYSQL_DATABASE"], host=os.environ["TEST_MYSQL_HOST"],
                                      port=int(os.environ.get("TEST_MYSQL_PORT", "3306")),
                                      user=os.environ.get("TEST_MYSQL_USER", "root"),
                                      password=os.environ.get("TEST_MYSQL_PASSWORD", ""))
    database = open_database(location)
    database.execute_sql("DROP TABLE IF EXISTS strategy_state")
    database.close()
    return location


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--size-mb", type=float, default=1.0)
    args = parser.parse_args()
    if args.rounds < 1 or args.size_mb <= 0:
        parser.error("--rounds must be >= 1 and --size-mb > 0")

    state = make_state(int(args.size_mb * 1024 * 1024))
    size_kb = len(json.dumps(state)) / 1024
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-state-", dir=os.environ.get("BENCH_DIR")) as folder:
        folder = Path(folder)
        baseline = bench_file(folder, state, args.rounds)
        rows.append(("json file (temp + fsync + replace)", *baseline))
        rows.append(("StateRepository, SQLite", *bench_repository(DatabaseLocation.sqlite(folder / "bench.db"),
                                                                  state, args.rounds)))
        location = mysql_location()
        if location is not None:
            rows.append((f"StateRepository, MySQL {location.host}:{location.port}",
                         *bench_repository(location, state, args.rounds)))

    print(f"state: {size_kb:.0f} KB of JSON, median of {args.rounds} rounds, Python {sys.version.split()[0]}")
    print(f"{'method':<44} {'save ms':>9} {'x base':>7} {'load+verify ms':>15} {'x base':>7}")
    for name, save_ms, load_ms in rows:
        print(f"{name:<44} {save_ms:>9.2f} {save_ms / baseline[0]:>7.2f} "
              f"{load_ms:>15.2f} {load_ms / baseline[1]:>7.2f}")
    if location is None:
        print("MySQL: skipped (set TEST_MYSQL_HOST/PORT/USER/PASSWORD/DATABASE, as scripts/test.sh does)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
