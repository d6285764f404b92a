"""Snapshot runs against the local TWS with the real client: rows, faults, disconnects, resume."""
from __future__ import annotations

import asyncio
import math
from collections import Counter

import pytest

from src.datafeed.ib.connection import ConnectionSettings, IbConnection
from src.datafeed.ib.governor import GovernorLimits, RateGovernor
from src.datafeed.ib.snapshot import NO_DATA, RunItem, SnapshotRunner, SnapshotSettings
from src.datafeed.ib.store import IbStore
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from tests.integration.datafeed.ib.cboe_chain import CboeChain, ListedOption
from tests.integration.datafeed.ib.conftest import run
from tests.integration.datafeed.ib.fake_tws import FakeTws, FaultKnobs

PRICE_COLUMNS = ("bid", "ask", "last", "close", "underlying_price")


def items_of(options: list[ListedOption]) -> list[RunItem]:
    return [RunItem(o.con_id, o.symbol, "OPT", "SMART", o.expiry, o.strike, o.right) for o in options]


def near_the_money(chain: CboeChain, count: int) -> list[ListedOption]:
    """``count`` liquid options of the 2022-06-17 expiries, the closest to the money."""
    liquid = [o for o in chain.options if o.expiry_text == "20220617" and o.bid > 0 and o.ask > 0]
    return sorted(liquid, key=lambda o: (abs(o.strike - chain.spot), o.con_id))[:count]


@pytest.fixture
def store(tmp_path):
    opened = IbStore.open(DatabaseLocation.sqlite(tmp_path / "ib.db"))
    yield opened
    opened.close()


def runner_for(tws: FakeTws, store: IbStore, *, limits: GovernorLimits | None = None,
               settings: SnapshotSettings | None = None) -> SnapshotRunner:
    governor = RateGovernor(limits or GovernorLimits(batch_size=40, batch_pause=0.05))
    connection = IbConnection(ConnectionSettings(port=tws.port, client_id=5, connect_timeout=5), governor)
    return SnapshotRunner(connection, store, settings or SnapshotSettings(snapshot_timeout=2.0,
                                                                         reconnect_within=10.0))


def assert_one_row_per_contract(store: IbStore, run_id: int, options: list[ListedOption]) -> list[dict]:
    rows = store.quotes(run_id)
    assert sorted(r["con_id"] for r in rows) == sorted(o.con_id for o in options)
    for row in rows:
        for column in PRICE_COLUMNS:
            value = row[column]
            assert value is None or (math.isfinite(value) and value >= 0), (column, row)
    return rows


def test_a_run_stores_every_contract_once_with_the_file_quotes_and_no_error_100(spx_chain, store):
    options = near_the_money(spx_chain, 90)

    async def scenario():
        async with FakeTws([spx_chain]) as tws:
            runner = runner_for(tws, store)
            result = await runner.run(items_of(options), session="open", market_data_type=1)
            runner.connection.disconnect()
            return result, tws.stats
    result, stats = run(scenario())
    assert result.status == "completed" and result.requested == result.filled == len(options)
    assert stats.errors_sent[100] == 0 and result.errors == {}
    by_con_id = {o.con_id: o for o in options}
    for row in assert_one_row_per_contract(store, result.run_id, options):
        option = by_con_id[row["con_id"]]
        assert (row["bid"], row["ask"]) == (option.bid, option.ask)
        assert row["greeks_source"] == "model" and row["market_data_type"] == 1
        assert row["underlying_price"] == spx_chain.spot
        assert row["iv"] == (option.iv if option.iv > 0 else None)
        assert row["vega"] is None      # TWS's -2 "not computed" is missing, not a vega


def test_a_disconnect_mid_batch_is_resumed_with_no_contract_missing_or_duplicated(spx_chain, store):
    options = near_the_money(spx_chain, 120)

    async def scenario():
        async with FakeTws([spx_chain], FaultKnobs(drop_after_snapshots=50, snapshot_latency=0.02)) as tws:
            runner = runner_for(tws, store)
            result = await runner.run(items_of(options), session="open", market_data_type=1)
            runner.connection.disconnect()
            return result, runner, tws.stats
    result, runner, stats = run(scenario())
    assert stats.connections == 2 and runner.disconnects == 1
    assert result.status == "completed" and result.filled == len(options)
    assert_one_row_per_contract(store, result.run_id, options)
    assert sum(1 for n in stats.snapshots_by_con_id.values() if n > 1) >= 1   # the lost ones were asked again


def test_connectivity_loss_1100_then_1101_data_lost_is_recovered(spx_chain, store):
    options = near_the_money(spx_chain, 80)
    knobs = FaultKnobs(outage_after_snapshots=30, outage_seconds=0.3, outage_data_lost=True,
                       snapshot_latency=0.05)

    async def scenario():
        async with FakeTws([spx_chain], knobs) as tws:
            runner = runner_for(tws, store, settings=SnapshotSettings(snapshot_timeout=1.0, reconnect_within=5.0))
            result = await runner.run(items_of(options), session="open", market_data_type=1)
            runner.connection.disconnect()
            return result, runner, tws.stats
    result, runner, stats = run(scenario())
    assert stats.errors_sent[1100] == 1 and stats.errors_sent[1101] == 1
    assert runner.governor.stats.backoffs.get(1100) == 1
    assert result.status == "completed" and result.filled == len(options)
    assert_one_row_per_contract(store, result.run_id, options)


def test_definitive_refusals_are_rows_with_their_code_and_partial_data_keeps_its_quotes(spx_chain, spy_chain, store):
    spx = near_the_money(spx_chain, 10)
    spy = [o for o in spy_chain.options if o.bid > 0 and o.ask > 0][:10]
    items = items_of(spx + spy) + [RunItem(999_999_999, "SPX", "OPT", "SMART")]

    async def scenario():
        knobs = FaultKnobs(unsubscribed_symbols={"SPY"}, partial_symbols={"SPX"})
        async with FakeTws([spx_chain, spy_chain], knobs) as tws:
            runner = runner_for(tws, store)
            result = await runner.run(items, session="open", market_data_type=1)
            runner.connection.disconnect()
            return result
    result = run(scenario())
    assert result.status == "completed" and result.requested == 21
    assert result.errors == {354: 10, 10090: 10, 200: 1}
    rows = {row["con_id"]: row for row in store.quotes(result.run_id)}
    assert all(rows[o.con_id]["error_code"] == 354 and rows[o.con_id]["bid"] is None for o in spy)
    assert all(rows[o.con_id]["bid"] == o.bid and rows[o.con_id]["greeks_source"] is None for o in spx)
    assert rows[999_999_999]["error_code"] == 200
    assert result.filled == 10


@pytest.mark.parametrize("placeholder", ["-1", "nan"])
def test_closed_market_placeholders_are_missing_and_frozen_data_is_flagged(spx_chain, store, placeholder):
    options = near_the_money(spx_chain, 20)

    async def scenario():
        async with FakeTws([spx_chain], FaultKnobs(market_open=False, closed_price=placeholder)) as tws:
            runner = runner_for(tws, store)
            live = await runner.run(items_of(options), session="post", market_data_type=1)
            frozen = await runner.run(items_of(options), session="post", market_data_type=2)
            runner.connection.disconnect()
            return live, frozen
    live, frozen = run(scenario())
    for row in store.quotes(live.run_id):
        assert row["bid"] is None and row["ask"] is None and row["last"] is None and row["iv"] is None
        assert row["market_data_type"] == 1
        assert row["close"] is not None or row["error_code"] == NO_DATA
    by_con_id = {o.con_id: o for o in options}
    for row in store.quotes(frozen.run_id):
        assert row["market_data_type"] == 2 and row["bid"] == by_con_id[row["con_id"]].bid


def test_a_run_killed_midway_resumes_from_its_rows(spx_chain, store):
    options = near_the_money(spx_chain, 100)

    async def first_process():
        async with FakeTws([spx_chain], FaultKnobs(snapshot_latency=0.01)) as tws:
            runner = runner_for(tws, store)
            task = asyncio.ensure_future(runner.run(items_of(options), session="open", market_data_type=1))
            while not store.runs() or not store.done_contract_ids(store.runs()[0].run_id):
                await asyncio.sleep(0.02)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            runner.connection.disconnect()
            return store.runs()[0]
    interrupted = run(first_process())
    assert interrupted.status == "running" and 0 < len(store.done_contract_ids(interrupted.run_id)) < len(options)
    stored_before = len(store.done_contract_ids(interrupted.run_id))

    async def second_process():
        async with FakeTws([spx_chain]) as tws:
            runner = runner_for(tws, store)
            result = await runner.resume(interrupted.run_id)
            runner.connection.disconnect()
            return result, tws.stats
    result, stats = run(second_process())
    assert result.status == "completed" and result.resumes == 1 and result.filled == len(options)
    assert sum(stats.snapshots_by_con_id.values()) == len(options) - stored_before
    assert_one_row_per_contract(store, result.run_id, options)


def test_open_interest_pass_streams_briefly_and_cancels(spx_chain, store):
    options = near_the_money(spx_chain, 30)

    async def scenario():
        async with FakeTws([spx_chain], FaultKnobs(market_open=False)) as tws:
            runner = runner_for(tws, store)
            result = await runner.open_interest_pass(items_of(options), wait=2.0)
            for _ in range(300):    # the client may still hold the last cancels in its own 45/s queue
                if tws.stats.received[2] == len(options):
                    break
                await asyncio.sleep(0.01)
            runner.connection.disconnect()
            return result, tws.stats
    result, stats = run(scenario())
    assert result.status == "completed" and result.filled == len(options)
    assert stats.received[2] == len(options)           # every stream cancelled
    assert stats.errors_sent[321] == 0 and Counter(stats.snapshots_by_con_id) == Counter()
    by_con_id = {o.con_id: o for o in options}
    for row in store.quotes(result.run_id):
        assert row["open_interest"] == by_con_id[row["con_id"]].open_interest
        assert row["market_data_type"] == 2
