"""Chain build the cheap way against the local TWS, the contract cache on SQLite and MySQL, vnpy contracts."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from ib_async import IB
from vnpy.event import EventEngine
from vnpy.trader.constant import OptionType
from vnpy.trader.engine import MainEngine

from src.datafeed.ib.chain import ChainBuilder, ChainMaintainer
from src.datafeed.ib.governor import GovernorLimits, RateGovernor
from src.datafeed.ib.store import IB_TABLES, LATEST_VERSION, IbStore, ensure_ib_schema
from src.datafeed.ib.vnpy_contracts import publish_contracts
from src.strategy.infrastructure.persistence.database_connection import open_database
from tests.db_backends import drop_tables
from tests.integration.datafeed.ib.cboe_chain import CboeChain
from tests.integration.datafeed.ib.conftest import run
from tests.integration.datafeed.ib.fake_tws import FakeTws

NOW = datetime(2022, 6, 10, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def ib_database(database_location):
    """Each backend, emptied of the IB tables before and after (the MySQL schema test compares whole databases)."""
    drop_tables(database_location, IB_TABLES)
    yield database_location
    drop_tables(database_location, IB_TABLES)


async def connect(tws: FakeTws) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", tws.port, clientId=3, timeout=5, readonly=True)
    return ib


def test_chain_is_built_with_one_details_request_per_expiry(spx_chain):
    async def scenario():
        async with FakeTws([spx_chain]) as tws:
            ib = await connect(tws)
            builder = ChainBuilder(ib, RateGovernor())
            build = await builder.build("SPX")
            ib.disconnect()
            return build, tws.stats
    build, stats = run(scenario())
    expiries = spx_chain.expiries()
    assert build.structure.expiries == tuple(expiries)
    assert {r.con_id for r in build.records} == {o.con_id for o in spx_chain.options}
    assert build.requests == 2 + len(expiries) == stats.contract_details_requests + stats.secdef_requests
    assert build.foreign_details == 0
    spxw = next(r for r in build.records if r.trading_class == "SPXW")
    spx = next(r for r in build.records if r.trading_class == "SPX")
    assert spxw.settlement_time.hour == 16 and (spx.settlement_time.hour, spx.settlement_time.minute) == (9, 30)


def test_cache_round_trip_incremental_update_and_purge(spx_chain, ib_database):
    expiries = spx_chain.expiries()
    early = CboeChain(**{**spx_chain.__dict__, "options": tuple(o for o in spx_chain.options
                                                              if o.expiry_text in expiries[:3])})

    async def scenario(chain: CboeChain, store: IbStore, now: datetime, price: float | None, force=False):
        async with FakeTws([chain]) as tws:
            ib = await connect(tws)
            maintainer = ChainMaintainer(ChainBuilder(ib, RateGovernor()), store, strike_move_threshold=0.05)
            report = await maintainer.refresh("SPX", now=now, underlying_price=price, force=force)
            ib.disconnect()
            return report

    store = IbStore.open(ib_database)
    try:
        first = run(scenario(early, store, NOW, 3900.0))
        assert first.checked and first.new_expiries == tuple(expiries[:3])
        assert first.new_contracts == len(early.options)
        assert first.requests == 2 + 3
        cached = store.contracts("SPX")
        assert {r.con_id for r in cached} == {o.con_id for o in early.options}

        soon = run(scenario(spx_chain, store, NOW + timedelta(minutes=30), 3905.0))
        assert not soon.checked and soon.requests == 0      # at most one check per 2 hours

        later = run(scenario(spx_chain, store, NOW + timedelta(hours=2), 3905.0))
        assert later.new_expiries == tuple(expiries[3:]) and later.relisted_expiries == ()
        assert later.new_contracts == len(spx_chain.options) - len(early.options)

        moved = run(scenario(spx_chain, store, NOW + timedelta(hours=4), 3900.0 * 1.08))
        assert moved.relisted_expiries == tuple(expiries) and moved.new_contracts == 0
        assert "moved" in moved.reason

        after_expiry = datetime(2022, 6, 18, 14, 0, tzinfo=timezone.utc)
        gone = {o.con_id for o in spx_chain.options if o.expiry < after_expiry.date()}
        report = run(scenario(spx_chain, store, after_expiry, None))
        assert report.purged == len(gone)
        assert not gone & {r.con_id for r in store.contracts("SPX")}
        [summary] = store.summary()
        assert summary["contracts"] == len(spx_chain.options) - len(gone)
    finally:
        store.close()


def test_ib_schema_is_created_once_and_marked_migrated(ib_database):
    database = open_database(ib_database)
    assert ensure_ib_schema(database) == list(range(1, LATEST_VERSION + 1))
    assert ensure_ib_schema(database) == []
    for table in IB_TABLES:
        assert database.table_exists(table)
    database.close()


def test_cached_chain_reaches_vnpy_as_option_contracts(spx_chain, tmp_path):
    async def scenario():
        async with FakeTws([spx_chain]) as tws:
            ib = await connect(tws)
            build = await ChainBuilder(ib, RateGovernor(GovernorLimits())).build("SPX", expiries=["20220617"])
            ib.disconnect()
            return build
    build = run(scenario())
    event_engine = EventEngine()
    main_engine = MainEngine(event_engine)
    try:
        published = publish_contracts(event_engine, build.records)
        deadline = time.monotonic() + 10
        while len(main_engine.get_all_contracts()) < published and time.monotonic() < deadline:
            time.sleep(0.05)
        contracts = main_engine.get_all_contracts()
        assert len(contracts) == published == len(build.records)
        record = build.records[0]
        contract = main_engine.get_contract(f"{record.con_id}.SMART")
        assert contract.option_portfolio == f"{spx_chain.underlying_con_id}_O"
        assert contract.option_underlying == "SPX-20220617"
        assert contract.option_strike == record.strike
        assert contract.option_type == (OptionType.CALL if record.right == "C" else OptionType.PUT)
        assert contract.size == 100
    finally:
        main_engine.close()


def test_runs_quotes_and_surfaces_round_trip(ib_database):
    from datetime import date

    store = IbStore.open(ib_database)
    try:
        run_id = store.start_run(session="open", market_data_type=1, underlyings=["SPX"],
                                 contract_ids=[[1, "SPX", "OPT", "SMART", "2022-06-17", 3900.0, "C"]], started_at=NOW)
        row = dict(con_id=1, underlying="SPX", expiry=date(2022, 6, 17), strike=3900.0, option_right="C",
                   bid=61.6, ask=None, last=None, close=61.5, bid_size=12.0, ask_size=None, last_size=None,
                   volume=6843.0, open_interest=None, iv=0.2838, delta=0.5187, gamma=0.0026, vega=None,
                   theta=None, underlying_price=3900.86, greeks_source="model", market_data_type=1,
                   error_code=None, recorded_at=NOW)
        assert store.record_quotes(run_id, [row]) == 1
        assert store.record_quotes(run_id, [row]) == 0          # a repeated contract is never a second row
        store.update_run(run_id, errors={100: 2}, status="completed", ended_at=NOW + timedelta(minutes=1),
                         resumed=True)
        run_row = store.run(run_id)
        assert (run_row.status, run_row.requested, run_row.filled, run_row.errors, run_row.resumes) == \
            ("completed", 1, 1, {100: 2}, 1)
        assert run_row.started_at == NOW and run_row.contract_ids == (1,)
        [stored] = store.quotes(run_id)
        assert stored["ask"] is None and stored["bid"] == 61.6 and stored["expiry"] == date(2022, 6, 17)
        store.save_surface(run_id, "SPX", NOW, 0.012, {"forwards": [1.0]}, NOW)
        store.save_surface(run_id, "SPX", NOW, 0.013, {"forwards": [2.0]}, NOW)   # rebuilt: replaced
        [surface] = store.surfaces("SPX")
        assert surface["payload"] == {"forwards": [2.0]} and surface["rate"] == 0.013
    finally:
        store.close()
