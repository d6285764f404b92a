"""``python -m src.backtesting.sweep`` as a user runs it, on a week of the synthetic sample market."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from src.paths import PROJECT_ROOT
from tests.e2e.cli import run_command

START, END = "2026-01-08", "2026-01-14"
GRID = """parameters:
  strategies[0].setting.target_delta_min: [0.1, 0.2]
  strategies[0].setting.max_positions: [2, 5]
"""


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    """The sample market for the dates, created the way the backtest command creates it."""
    folder = tmp_path_factory.mktemp("sweep-db")
    path = folder / "sample.db"
    result = run_command(["-m", "src.backtesting.cli", "--sample-market", "--start", START, "--end", END,
                          "--no-progress", "--output-dir", str(folder / "first")], database=path)
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sweep-grid") / "grid.yaml"
    path.write_text(GRID, encoding="utf-8")
    return path


def sweep(args, database, home=None, timeout=600):
    return run_command(["-m", "src.backtesting.sweep", "--start", START, "--end", END, *args], database=database,
                       home=home, timeout=timeout)


def read_results(path: Path) -> dict[tuple, dict]:
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    return {(row["tag"], row["param:strategies[0].setting.target_delta_min"],
             row["param:strategies[0].setting.max_positions"]): row for row in rows}


@pytest.fixture(scope="module")
def pool_run(database, grid_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep-pool")
    (folder / "home").mkdir()
    result = sweep(["--grid", str(grid_file), "--workers", "2", "--results", str(folder / "results.csv"),
                    "--constraint", "max_ddpercent>-10"], database, home=folder / "home")
    assert result.returncode == 0, result.stderr
    return folder, result


def test_pool_sweep_writes_every_setting_ranks_them_and_leaves_home_alone(pool_run):
    folder, result = pool_run
    rows = read_results(folder / "results.csv")
    assert sorted(rows) == [("", d, m) for d in ("0.1", "0.2") for m in ("2", "5")]
    assert {row["status"] for row in rows.values()} == {"ok"}
    for row in rows.values():
        summary = json.loads(row["summary"])
        assert summary["trade_count"] > 0 and summary["order_count"] > 0
        assert "hedge_trade_count" in summary and "refusal_count" in summary
    assert "Top 4 of 4 (maximise sharpe_ratio subject to max_ddpercent>-10)" in result.stdout
    assert "4/4 done, 0 failed" in result.stderr and "ETA" in result.stderr
    html = (folder / "results.html").read_text(encoding="utf-8")
    assert "Heatmap" in html or "heatmap" in html
    assert '<script src="http' not in html and len(html) > 1_000_000  # plotly.js inside: opens offline
    assert list((folder / "home").iterdir()) == []


@pytest.mark.parametrize("delta_min, max_positions", [(0.1, 2), (0.2, 5)])
def test_a_setting_in_the_sweep_equals_the_same_setting_run_alone(pool_run, database, tmp_path, delta_min,
                                                                   max_positions):
    folder, _ = pool_run
    override = tmp_path / "setting.yaml"
    override.write_text(f"strategies:\n  - setting:\n      target_delta_min: {delta_min}\n"
                        f"      max_positions: {max_positions}\n", encoding="utf-8")
    alone = run_command(["-m", "src.backtesting.cli", "--start", START, "--end", END, "--no-progress",
                         "--override-config", str(override), "--output-dir", str(tmp_path / "alone")],
                        database=database)
    assert alone.returncode == 0, alone.stderr
    expected = json.loads((tmp_path / "alone" / "summary.json").read_text(encoding="utf-8"))
    row = read_results(folder / "results.csv")[("", str(delta_min), str(max_positions))]
    assert json.loads(row["summary"]) == expected


def test_dask_local_cluster_gives_the_pool_results(pool_run, database, grid_file, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("VNPY_DATABASE_DRIVER", "sqlite")
    monkeypatch.setenv("VNPY_DATABASE_DATABASE", str(database))  # the workers inherit it
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, scheduler_port=0, silence_logs=40)
    try:
        result = sweep(["--grid", str(grid_file), "--scheduler", cluster.scheduler_address,
                        "--results", str(tmp_path / "results.csv"), "--constraint", "max_ddpercent>-10"],
                       database, timeout=600)
    finally:
        cluster.close(timeout=30)
    assert result.returncode == 0, result.stderr
    assert "Dask cluster at tcp://127.0.0.1" in result.stdout
    pool = read_results(pool_run[0] / "results.csv")
    dask = read_results(tmp_path / "results.csv")
    assert sorted(dask) == sorted(pool)
    for key, row in pool.items():
        assert json.loads(dask[key]["summary"]) == json.loads(row["summary"])
        assert json.loads(dask[key]["daily"]) == json.loads(row["daily"])


def test_a_failing_setting_is_reported_with_its_setting_and_the_sweep_goes_on_and_resumes(database, tmp_path):
    # The configuration refuses an unknown strategy class up front now; what fails only in the worker is a
    # setting whose run finds no data: this one trades no product with bars (IH has none in the sample).
    targets = tmp_path / "targets.yaml"
    targets.write_text("- IF\n", encoding="utf-8")
    grid = tmp_path / "grid.yaml"
    grid.write_text("parameters:\n  strategies[0].setting.strike_level: [4, 5]\n", encoding="utf-8")
    results = tmp_path / "results.csv"
    args = ["--grid", str(grid), "--workers", "2", "--results", str(results), "--end", "2026-01-09",
            "--trading-target", str(targets)]
    result = sweep(args, database)
    assert result.returncode == 0, result.stderr
    with results.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {row["status"] for row in rows} == {"ok"}, "IF alone runs"

    targets.write_text("- IH\n", encoding="utf-8")
    failing = tmp_path / "failing.csv"
    result = sweep(args[:5] + [str(failing)] + args[6:], database)
    assert result.returncode == 1, result.stderr  # every setting failed: the sweep did not succeed
    assert "setting {'strategies[0].setting.strike_level': 4} failed: UserInputError:" in result.stderr
    assert "no 1-minute bars of IH futures" in result.stderr
    with failing.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["status"] for row in rows) == ["failed", "failed"]

    again = sweep(args[:5] + [str(failing)] + args[6:], database)  # failed settings run again
    assert again.returncode == 1, again.stderr
    with failing.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["status"] for row in rows) == ["failed"] * 4


def test_an_unknown_strategy_class_in_the_grid_is_refused_before_any_backtest(database, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("parameters:\n  strategies[0].class_name: [StrategyEntry, NoSuchStrategy]\n", encoding="utf-8")
    result = sweep(["--grid", str(grid), "--results", str(tmp_path / "r.csv")], database)
    assert result.returncode == 2
    assert f"{grid}: strategies[0].class_name: expected one of 'StrategyEntry', got 'NoSuchStrategy'" in result.stderr
    assert not (tmp_path / "r.csv").exists()


def test_a_bad_key_in_the_grid_is_one_line_naming_the_file_and_the_key(database, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("parameters:\n  hedging.delta_hedging.hedging_bnd: [0.5, 1.0]\n", encoding="utf-8")
    result = sweep(["--grid", str(grid), "--results", str(tmp_path / "r.csv")], database)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(grid) in lines[0] and "hedging.delta_hedging.hedging_bnd: unknown key" in lines[0]
    assert not (tmp_path / "r.csv").exists()

    grid.write_text("parameters:\n  strategies[0].setting.position_ratio: [0.1, 2.0]\n", encoding="utf-8")
    result = sweep(["--grid", str(grid)], database)
    assert result.returncode == 2
    assert "strategies[0].setting.position_ratio: must be <= 1.0, got 2.0" in result.stderr


def test_bad_objective_and_constraint_are_one_line(database, grid_file):
    result = sweep(["--grid", str(grid_file), "--objective", "sharpness"], database)
    assert result.returncode == 2 and "--objective: unknown metric 'sharpness'" in result.stderr
    result = sweep(["--grid", str(grid_file), "--constraint", "max_ddpercent>>1"], database)
    assert result.returncode == 2 and "expected METRIC OP NUMBER" in result.stderr


def test_ctrl_c_cancels_the_sweep_and_ends_its_workers(database, grid_file, tmp_path):
    psutil = pytest.importorskip("psutil")
    results = tmp_path / "results.csv"
    environment = {**os.environ, "VNPY_DATABASE_DRIVER": "sqlite", "VNPY_DATABASE_DATABASE": str(database)}
    process = subprocess.Popen([sys.executable, "-m", "src.backtesting.sweep", "--grid", str(grid_file),
                                "--start", START, "--end", END, "--workers", "2", "--results", str(results)],
                               cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        workers = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [p for p in psutil.Process(process.pid).children(recursive=True)]
            time.sleep(0.2)
        assert workers, "the pool's workers never started"
        time.sleep(2)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and f"--results {results}" in stderr
    assert "Traceback" not in stderr
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert alive == []


def test_walk_forward_chooses_in_sample_and_tests_out_of_sample(database, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("parameters:\n  strategies[0].setting.target_delta_min: [0.1, 0.2]\n", encoding="utf-8")
    results = tmp_path / "results.csv"
    # Three in-sample days: the sample starts on 01-08 and the warm-up takes two whole trading days of bars.
    result = sweep(["--grid", str(grid), "--walk-forward", "3:1", "--workers", "2",
                    "--results", str(results)], database)
    assert result.returncode == 0, result.stderr
    table = result.stdout[result.stdout.index("Walk-forward"):].splitlines()
    assert table[1].split()[:3] == ["window", "in-sample", "out-of-sample"]
    assert table[2].split()[:3] == ["1", "2026-01-08..2026-01-12", "2026-01-13..2026-01-13"]
    assert table[3].split()[:3] == ["2", "2026-01-09..2026-01-13", "2026-01-14..2026-01-14"]
    with results.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["tag"] for row in rows) == ["w1-in", "w1-in", "w1-out", "w2-in", "w2-in", "w2-out"]
    for row in rows:
        summary = json.loads(row["summary"])
        days = {day for day, _ in json.loads(row["daily"])}
        if row["tag"].endswith("-out"):
            window_in = [json.loads(r["summary"]) for r in rows if r["tag"] == row["tag"].replace("out", "in")]
            assert all(summary["start"] > s["end"] for s in window_in)  # out-of-sample after its in-sample
            assert days <= {summary["start"]}
    html = (tmp_path / "results.html").read_text(encoding="utf-8")
    assert "Out-of-sample equity" in html
