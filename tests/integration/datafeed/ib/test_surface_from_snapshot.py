"""A snapshot run of the real SPX chain becomes an OptionChainSnapshot and a VolSurface close to Cboe's IVs."""
from __future__ import annotations

import math
import statistics
from datetime import datetime, timezone

import pytest

from src.datafeed.ib.chain import ChainBuilder
from src.datafeed.ib.connection import ConnectionSettings, IbConnection
from src.datafeed.ib.governor import GovernorLimits, RateGovernor
from src.datafeed.ib.snapshot import RunItem, SnapshotRunner, SnapshotSettings
from src.datafeed.ib.store import IbStore
from src.datafeed.ib.surface import SurfaceError, chain_snapshot, store_surface
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from tests.integration.datafeed.ib.conftest import run
from tests.integration.datafeed.ib.fake_tws import FakeTws, FaultKnobs

EXPIRIES = ["20220617", "20220715"]
RUN_STARTED = datetime(2022, 6, 10, 19, 55, tzinfo=timezone.utc)     # five minutes before the close


def otm_band(chain, expiries, width=0.10):
    return [o for o in chain.options if o.expiry_text in expiries
            and abs(math.log(o.strike / chain.spot)) <= width]


@pytest.fixture
def store(tmp_path):
    opened = IbStore.open(DatabaseLocation.sqlite(tmp_path / "ib.db"))
    yield opened
    opened.close()


def snapshot_run(chain, store, options, *, market_open=True, market_data_type=1, started=RUN_STARTED):
    async def scenario():
        async with FakeTws([chain], FaultKnobs(market_open=market_open)) as tws:
            governor = RateGovernor(GovernorLimits(batch_pause=0.05))
            connection = IbConnection(ConnectionSettings(port=tws.port, client_id=9, connect_timeout=5), governor)
            await connection.ensure(10)
            build = await ChainBuilder(connection.ib, governor).build(chain.symbol, expiries=EXPIRIES)
            store.upsert_contracts(build.records, seen_at=started)
            runner = SnapshotRunner(connection, store, SnapshotSettings(snapshot_timeout=3), now=lambda: started)
            items = [RunItem(chain.underlying_con_id, chain.symbol, "IND", "CBOE")]
            items += [RunItem.of(r) for r in build.records if r.con_id in {o.con_id for o in options}]
            result = await runner.run(items, session="open" if market_open else "post",
                                      market_data_type=market_data_type)
            connection.disconnect()
            return result
    return run(scenario(), timeout=120)


@pytest.mark.slow
def test_surface_from_a_live_snapshot_matches_cboe_ivs(spx_chain, store):
    options = otm_band(spx_chain, EXPIRIES, width=0.06)
    result = snapshot_run(spx_chain, store, options)
    assert result.status == "completed" and result.filled == len(options) + 1
    chain, build = store_surface(store, result.run_id, "SPX", rate=0.012, built_at=RUN_STARTED)
    assert chain.snapshot.valuation_time == RUN_STARTED
    assert chain.snapshot.underlying_price == spx_chain.spot
    assert {f.source for f in build.forwards} <= {"parity", "parity+rate"} and len(build.forwards) == 4  # AM and PM of each date
    cboe = {(o.expiry_text, o.strike, o.right): o.iv for o in options}
    differences = [abs(v.iv_mid - cboe[(v.quote.expiry.strftime("%Y%m%d"), v.quote.strike,
                                        v.quote.option_type.value[0])])
                   for v in build.quotes if v.out_of_the_money and math.isfinite(v.iv_mid)
                   and cboe[(v.quote.expiry.strftime("%Y%m%d"), v.quote.strike, v.quote.option_type.value[0])] > 0]
    assert len(differences) > 100
    assert statistics.median(differences) < 0.005
    [saved] = store.surfaces("SPX")
    assert saved["run_id"] == result.run_id and saved["payload"]["surface"]["vols"]
    assert len(saved["payload"]["quotes"]) == len(build.quotes)


def test_frozen_snapshot_is_valued_at_the_last_close_never_now(spx_chain, store):
    options = otm_band(spx_chain, EXPIRIES[:1], width=0.03)
    saturday = datetime(2022, 6, 11, 16, 0, tzinfo=timezone.utc)
    result = snapshot_run(spx_chain, store, options, market_open=False, market_data_type=2, started=saturday)
    chain = chain_snapshot(store, result.run_id, "SPX", rate=0.012)
    assert chain.market_data_type == 2
    assert chain.snapshot.valuation_time == datetime(2022, 6, 10, 20, 0, tzinfo=timezone.utc)
    assert chain.snapshot.valuation_time < saturday


def test_a_run_without_quotes_for_the_underlying_is_refused(spx_chain, store):
    options = otm_band(spx_chain, EXPIRIES[:1], width=0.01)
    result = snapshot_run(spx_chain, store, options)
    with pytest.raises(SurfaceError, match="no quotes for QQQ"):
        chain_snapshot(store, result.run_id, "QQQ", rate=0.0)


def test_live_and_frozen_quotes_are_never_mixed_in_one_surface(store):
    from datetime import date

    run_id = store.start_run(session="open", market_data_type=1, underlyings=["SPX"], contract_ids=[],
                             started_at=RUN_STARTED)
    base = dict(underlying="SPX", expiry=date(2022, 6, 17), option_right="C", ask=11.0, last=None, close=None,
                bid_size=1.0, ask_size=1.0, last_size=None, volume=1.0, open_interest=None, iv=None, delta=None,
                gamma=None, vega=None, theta=None, underlying_price=3900.0, greeks_source=None, error_code=None,
                recorded_at=RUN_STARTED)
    store.record_quotes(run_id, [dict(base, con_id=1, strike=3900.0, bid=10.0, market_data_type=1),
                                 dict(base, con_id=2, strike=3910.0, bid=9.0, market_data_type=2)])
    with pytest.raises(SurfaceError, match="frozen and live quotes are never combined"):
        chain_snapshot(store, run_id, "SPX", rate=0.0)
