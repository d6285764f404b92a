"""Wall time of the same sweep run serially, on the local pool and on a Dask LocalCluster, in one run.

    .venv/bin/python scripts/measure_sweep.py [--start 2026-01-05 --end 2026-02-06] [--workers 2]
        [--grid config/examples/sweep.yaml] [--override-config config/timeframe/15m.yaml] [--database PATH]

Creates the synthetic sample market for the dates (or reuses --database), runs
``python -m src.backtesting.sweep`` three times with the same grid (``--serial``, ``--workers N``,
``--scheduler`` of a loopback LocalCluster of N worker processes), prints the wall times and checks
that every setting's summary is identical in the three results files.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.paths import CONFIG_DIR, PROJECT_ROOT  # noqa: E402


def run_sweep(args, extra, results: Path, env) -> float:
    command = [sys.executable, "-m", "src.backtesting.sweep", "--grid", str(args.grid), "--start", str(args.start),
               "--end", str(args.end), "--results", str(results), *extra]
    if args.override_config:
        command += ["--override-config", str(args.override_config)]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"sweep {' '.join(extra)} failed:\n{result.stderr[-3000:]}")
    return seconds


def summaries(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8", newline="") as stream:
        return {json.dumps([v for k, v in row.items() if k.startswith("param:")]): json.loads(row["summary"])
                for row in csv.DictReader(stream) if row["status"] == "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 5))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 2, 6))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--grid", type=Path, default=CONFIG_DIR / "examples" / "sweep.yaml")
    parser.add_argument("--override-config", type=Path, default=CONFIG_DIR / "timeframe" / "15m.yaml")
    parser.add_argument("--database", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="measure-sweep-"))
    database = args.database or folder / "sample.db"
    env = {**os.environ, "VNPY_DATABASE_DRIVER": "sqlite", "VNPY_DATABASE_DATABASE": str(database)}
    os.environ.update({k: env[k] for k in ("VNPY_DATABASE_DRIVER", "VNPY_DATABASE_DATABASE")})

    import src.backtesting  # noqa: F401
    from src.core.database_factory import create_database, database_settings_from_environment
    from src.datafeed.sample_market import ensure_sample_market
    ensure_sample_market(create_database(database_settings_from_environment()), args.start, args.end)

    times = {}
    times["serial (this process)"] = run_sweep(args, ["--serial"], folder / "serial.csv", env)
    times[f"pool ({args.workers} workers)"] = run_sweep(args, ["--workers", str(args.workers)],
                                                        folder / "pool.csv", env)
    from distributed import LocalCluster
    cluster_started = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=40)
    cluster_seconds = time.perf_counter() - cluster_started
    try:
        times[f"Dask LocalCluster ({args.workers} workers)"] = run_sweep(
            args, ["--scheduler", cluster.scheduler_address], folder / "dask.csv", env)
    finally:
        cluster.close(timeout=30)
    reference = summaries(folder / "serial.csv")
    same = all(summaries(folder / f"{name}.csv") == reference for name in ("pool", "dask"))
    print(f"{len(reference)} settings of {args.grid.name}, {args.start}..{args.end}; "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for name, seconds in times.items():
        print(f"{name:<32}{seconds:>9.1f} s")
    print(f"(the LocalCluster itself started in {cluster_seconds:.1f} s, not counted)")
    print(f"summaries identical in the three runs: {'yes' if same else 'NO'}")
    print(f"results: {folder}")


if __name__ == "__main__":
    main()
