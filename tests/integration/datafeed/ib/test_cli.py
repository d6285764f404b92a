"""``python -m src.datafeed.ib`` as a user runs it, against the local TWS (a separate process, loopback only)."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import replace

import pytest

from src.datafeed.ib.store import IbStore
from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from tests.integration.datafeed.ib.conftest import run
from tests.integration.datafeed.ib.fake_tws import FakeTws, FaultKnobs

AS_OF_POST = "2025-08-29T17:00:00-04:00"


@pytest.fixture(scope="module")
def spy_slice(spy_chain):
    options = tuple(o for o in spy_chain.options
                    if o.expiry_text in {"20250902", "20250903"} and abs(o.strike / spy_chain.spot - 1) < 0.015)
    return replace(spy_chain, options=options)


def environment(tmp_path, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("IB_", "VNPY_DATABASE"))}
    env.update(IB_HOST="127.0.0.1", IB_PORT=str(port), IB_CLIENT_ID="31", VNPY_DATABASE_DRIVER="sqlite",
               VNPY_DATABASE_DATABASE=str(tmp_path / "ib.db"), PYTHONPATH=str(PROJECT_ROOT))
    return env


async def cli(env: dict[str, str], *args: str, timeout: float = 90.0) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "src.datafeed.ib", *args, cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode, out.decode(), err.decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_snapshot_contracts_and_resume_commands(spy_slice, tmp_path):
    async def scenario():
        async with FakeTws([spy_slice], FaultKnobs(market_open=False)) as tws:
            env = environment(tmp_path, tws.port)
            snapshot = await cli(env, "snapshot", "--underlyings", "SPY", "--session", "auto", "--as-of",
                                 AS_OF_POST, "--rate", "0.04")
            show = await cli(env, "contracts", "show")
            refresh = await cli(env, "contracts", "refresh", "--underlyings", "SPY", "--as-of", AS_OF_POST)
            resume = await cli(env, "snapshot", "--underlyings", "SPY", "--resume", "2")
            return snapshot, show, refresh, resume
    snapshot, show, refresh, resume = run(scenario(), timeout=300)
    code, out, err = snapshot
    assert code == 0, err
    assert "session post, market data type 2" in out
    assert "run 1 (post-close): completed, requested 1, filled 1" in out
    assert f"run 2 (post): completed, requested {len(spy_slice.options) + 1}" in out
    assert "previous close SPY: 645.05" in out and "surface SPY: ok" in out
    code, out, _ = show
    assert code == 0 and f"SPY      {len(spy_slice.options):>6} contracts" in out and "run 2 post" in out
    code, out, _ = refresh
    assert code == 0 and "checked less than the interval ago" in out and "requests 0" in out
    code, out, _ = resume
    assert code == 0 and "run 2: completed" in out and "resumes 1" in out
    store = IbStore.open(DatabaseLocation.sqlite(tmp_path / "ib.db"))
    try:
        assert len(store.quotes(2)) == len(spy_slice.options) + 1
        assert store.surfaces("SPY")
    finally:
        store.close()


@pytest.mark.parametrize("args, env_extra, message", [
    (["snapshot", "--underlyings", "SPY", "--session", "lunch"], {}, "invalid choice"),
    (["snapshot", "--underlyings", "SPY"], {"IB_CLIENT_ID": "x"}, "IB_CLIENT_ID"),
    (["snapshot", "--underlyings", "SPY", "--rate", "4"], {}, "decimal rate"),
    (["contracts", "refresh"], {}, "needs --underlyings"),
    (["snapshot", "--underlyings", "SPY", "--resume", "7"], {}, "no snapshot run 7"),
    (["run", "--underlyings", "SPY", "--stream", "1,2,x"], {}, "conIds"),
])
def test_bad_input_is_one_line_and_exit_code_2(spy_slice, tmp_path, args, env_extra, message):
    async def scenario():
        async with FakeTws([spy_slice]) as tws:
            env = {**environment(tmp_path, tws.port), **env_extra}
            return await cli(env, *args)
    code, out, err = run(scenario())
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path):
    env = {**environment(tmp_path, free_port()), "VNPY_DATABASE_DRIVER": "mysql", "VNPY_DATABASE_DATABASE": "ib",
           "VNPY_DATABASE_HOST": "127.0.0.1", "VNPY_DATABASE_PORT": str(free_port()),
           "VNPY_DATABASE_PASSWORD": "hunter2-secret"}
    code, _, err = run(cli(env, "contracts", "show"))
    assert code == 2 and "cannot open MySQL" in err and len(err.strip().splitlines()) == 1
    assert "hunter2-secret" not in err and "Traceback" not in err


def test_tws_unreachable_is_exit_code_3(tmp_path):
    env = environment(tmp_path, free_port())
    code, _, err = run(cli(env, "--connect-within", "0.5", "snapshot", "--underlyings", "SPY"))
    assert code == 3 and "cannot reach TWS 127.0.0.1" in err and "Traceback" not in err


@pytest.mark.slow
def test_run_under_the_daemon_snapshots_and_stops_cleanly_on_sigterm(spy_slice, tmp_path):
    async def scenario():
        async with FakeTws([spy_slice]) as tws:
            env = environment(tmp_path, tws.port)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "src.datafeed.ib", "run", "--underlyings", "SPY", "--no-surface",
                "--log-dir", str(tmp_path / "logs"), cwd=PROJECT_ROOT, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            try:
                location = DatabaseLocation.sqlite(tmp_path / "ib.db")
                for _ in range(600):
                    await asyncio.sleep(0.1)
                    if (tmp_path / "ib.db").exists():
                        store = IbStore.open(location)
                        try:
                            runs = store.runs()
                        finally:
                            store.close()
                        if runs and runs[0].status == "completed":
                            break
                assert runs and runs[0].status == "completed", "the scheduler's child never completed a run"
                assert tws.stats.connections >= 1
                process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(process.wait(), 60)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            log = (tmp_path / "logs" / "ib_feed" / "daemon.log").read_text()
            return code, log
    code, log = run(scenario(), timeout=180)
    assert code == 0
    assert "started child pid" in log and "stopped" in log
