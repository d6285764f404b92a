"""Each session plan carried out against the local TWS on a slice of the real SPY chain."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from src.datafeed.ib.connection import ConnectionSettings, IbConnection
from src.datafeed.ib.governor import GovernorLimits, RateGovernor
from src.datafeed.ib.pipeline import ChainPipeline, FeedOptions, describe
from src.datafeed.ib.sessions import parse_session
from src.datafeed.ib.snapshot import SnapshotSettings
from src.datafeed.ib.store import IbStore
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from tests.integration.datafeed.ib.conftest import run
from tests.integration.datafeed.ib.fake_tws import FakeTws, FaultKnobs

NY = ZoneInfo("America/New_York")
MOMENTS = {"pre": datetime(2025, 8, 29, 8, 0, tzinfo=NY), "open": datetime(2025, 8, 29, 11, 0, tzinfo=NY),
           "post": datetime(2025, 8, 29, 17, 0, tzinfo=NY), "weekend": datetime(2025, 8, 30, 12, 0, tzinfo=NY)}


@pytest.fixture(scope="module")
def spy_slice(spy_chain):
    """The two nearest expiries, strikes within 2 % of the spot: still the real quotes."""
    keep = {"20250902", "20250903"}
    options = tuple(o for o in spy_chain.options
                    if o.expiry_text in keep and abs(o.strike / spy_chain.spot - 1) < 0.02)
    return replace(spy_chain, options=options)


@pytest.fixture
def store(tmp_path):
    opened = IbStore.open(DatabaseLocation.sqlite(tmp_path / "ib.db"))
    yield opened
    opened.close()


def execute(chain, store, session: str, options: FeedOptions, knobs: FaultKnobs | None = None):
    now = MOMENTS[session]

    async def scenario():
        async with FakeTws([chain], knobs or FaultKnobs(market_open=session == "open")) as tws:
            governor = RateGovernor(GovernorLimits(batch_pause=0.05))
            connection = IbConnection(ConnectionSettings(port=tws.port, client_id=11, connect_timeout=5), governor)
            pipeline = ChainPipeline(connection, store, options, now=lambda: now,
                                     snapshot_settings=SnapshotSettings(snapshot_timeout=3))
            window, plan = parse_session("auto", now)
            assert window.session.value == session
            report = await pipeline.execute(window, plan)
            await pipeline.streams.stop()
            connection.disconnect()
            return report, tws.stats
    return run(scenario(), timeout=120)


def test_pre_market_updates_the_chain_counts_open_interest_and_snapshots_frozen(spy_slice, store):
    report, stats = execute(spy_slice, store, "pre", FeedOptions(("SPY",), rate=0.04))
    assert report.market_data_type == 2
    assert report.refreshes[0].new_contracts == len(spy_slice.options)
    oi_run, snapshot_run = report.runs
    assert oi_run.session == "pre-oi" and oi_run.filled == len(spy_slice.options)
    assert snapshot_run.status == "completed" and snapshot_run.filled == len(spy_slice.options) + 1
    assert all(row["market_data_type"] == 2 for row in store.quotes(snapshot_run.run_id))
    assert report.surfaces["SPY"].startswith("ok")
    assert stats.errors_sent[100] == 0 and stats.errors_sent[321] == 0
    assert any("run" in line for line in describe(report))


def test_open_session_streams_the_short_list_apart_from_the_snapshot(spy_slice, store):
    streamed = tuple(o.con_id for o in spy_slice.options[:3])
    report, stats = execute(spy_slice, store, "open", FeedOptions(("SPY",), stream_con_ids=streamed))
    assert report.market_data_type == 1 and report.streams == 3
    [snapshot_run] = report.runs
    assert snapshot_run.filled == len(spy_slice.options) + 1
    assert not set(streamed) & set(stats.snapshots_by_con_id)          # never a snapshot of a streamed contract
    assert set(stats.streams_by_con_id) == set(streamed)
    rows = {row["con_id"]: row for row in store.quotes(snapshot_run.run_id)}
    assert all(rows[c]["bid"] is not None and rows[c]["market_data_type"] == 1 for c in streamed)


def test_after_market_takes_previous_closes_from_history(spy_slice, store):
    report, stats = execute(spy_slice, store, "post", FeedOptions(("SPY",), build_surfaces=False))
    assert report.previous_closes == {"SPY": spy_slice.spot}
    assert stats.historical_requests == 1
    closes, snapshot = report.runs
    assert closes.session == "post-close" and store.quotes(closes.run_id)[0]["close"] == spy_slice.spot
    assert snapshot.filled == len(spy_slice.options) + 1


def test_weekend_validates_the_scan_code_then_scans_and_maintains_the_library(spy_slice, store):
    report, _ = execute(spy_slice, store, "weekend", FeedOptions(("SPY",), build_surfaces=False))
    assert report.scanner == ["SPY"] and report.problems == []
    assert report.refreshes[0].checked and report.refreshes[0].reason.startswith("forced")
    unknown, _ = execute(spy_slice, store, "weekend", FeedOptions(("SPY",), scan_code="HIGH_OPT_VOLUME",
                                                                  build_surfaces=False))
    assert unknown.scanner == [] and "HIGH_OPT_VOLUME is not offered" in unknown.problems[0]


@pytest.mark.parametrize("options, message", [
    (dict(underlyings=()), "at least one"),
    (dict(underlyings=("spy!",)), "not an underlying"),
    (dict(underlyings=("SPY",), stream_con_ids=tuple(range(1, 30))), "line budget"),
    (dict(underlyings=("SPY",), post_underlyings=tuple(f"S{i}" for i in range(501))), "at most 500"),
])
def test_feed_options_refuse_what_cannot_work(options, message):
    with pytest.raises(ValueError, match=message):
        FeedOptions(**options)


def test_the_scheduler_repeats_the_open_snapshot_every_30_minutes_and_stops_streams(spy_slice, store):
    from datetime import timedelta

    from src.datafeed.ib.scheduler import Scheduler

    clock = {"now": MOMENTS["open"]}
    streamed = (spy_slice.options[0].con_id,)

    async def scenario():
        async with FakeTws([spy_slice]) as tws:
            governor = RateGovernor(GovernorLimits(batch_pause=0.05))
            connection = IbConnection(ConnectionSettings(port=tws.port, client_id=12, connect_timeout=5), governor)
            pipeline = ChainPipeline(connection, store, FeedOptions(("SPY",), stream_con_ids=streamed,
                                                                    build_surfaces=False),
                                     now=lambda: clock["now"], snapshot_settings=SnapshotSettings(snapshot_timeout=3))
            scheduler = Scheduler(pipeline, now=lambda: clock["now"], ceiling=timedelta(milliseconds=10))

            def tick():            # each pass of the loop is ten minutes of market time
                clock["now"] += timedelta(minutes=10)
            state = await scheduler.run(max_cycles=2, heartbeat=tick)
            for _ in range(300):   # the client may hold the cancel in its own 45/s queue for a moment
                if tws.stats.received[2]:
                    break
                await asyncio.sleep(0.01)
            connection.disconnect()
            return state, tws.stats
    state, stats = run(scenario(), timeout=120)
    assert state.cycles == 2 and state.failures == 0
    first, second = (report.runs[0] for report in state.reports)
    assert second.started_at - first.started_at == timedelta(minutes=30)
    assert first.filled == second.filled == len(spy_slice.options) + 1
    assert stats.received[2] == 1          # the stream was cancelled when the scheduler stopped
