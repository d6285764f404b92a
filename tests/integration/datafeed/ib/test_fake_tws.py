"""The local TWS answers the unmodified ib_async client as TWS does, faults included."""
from __future__ import annotations

import asyncio
import math
import time

from ib_async import IB, Index, Option

from tests.integration.datafeed.ib.conftest import run
from tests.integration.datafeed.ib.fake_tws import FakeTws, FaultKnobs


async def connected(tws: FakeTws, client_id: int = 1) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", tws.port, clientId=client_id, timeout=5, readonly=True)
    return ib


class ErrorLog:
    def __init__(self, ib: IB) -> None:
        self.errors: list[tuple[int, int]] = []
        ib.errorEvent += lambda req_id, code, message, contract: self.errors.append((req_id, code))

    async def wait_for(self, code: int, timeout: float = 5.0) -> None:
        async def poll():
            while not any(c == code for _, c in self.errors):
                await asyncio.sleep(0.01)
        await asyncio.wait_for(poll(), timeout)

    def codes(self) -> list[int]:
        return [code for _, code in self.errors]


REQ_MKT_DATA = 1  # the API's message id of reqMktData


def test_handshake_startup_requests_and_chain_structure(spx_chain):
    async def scenario():
        async with FakeTws([spx_chain]) as tws:
            ib = await connected(tws)
            assert ib.isConnected() and ib.client.serverVersion() == 178
            assert ib.wrapper.accounts == ["DU1234567"]
            for startup in (61, 6, 76, 7):  # readonly: no open/completed orders requests
                assert tws.stats.received[startup] == 1
            [underlying] = await ib.qualifyContractsAsync(Index("SPX", "CBOE"))
            assert underlying.conId == spx_chain.underlying_con_id
            chains = await ib.reqSecDefOptParamsAsync("SPX", "", "IND", underlying.conId)
            smart = [c for c in chains if c.exchange == "SMART"]
            assert {c.tradingClass for c in smart} == {"SPX", "SPXW"}
            expiries = set().union(*(c.expirations for c in smart))
            assert expiries == set(spx_chain.expiries())
            details = await ib.reqContractDetailsAsync(Option("SPX", "20220617", exchange="SMART"))
            listed = [o for o in spx_chain.options if o.expiry_text == "20220617"]
            assert {d.contract.conId for d in details} == {o.con_id for o in listed}
            assert {d.underConId for d in details} == {underlying.conId}
            ib.disconnect()
    run(scenario())


def test_a_trading_client_gets_all_six_startup_answers(spx_chain):
    async def scenario():
        async with FakeTws([spx_chain]) as tws:
            ib = IB()
            await ib.connectAsync("127.0.0.1", tws.port, clientId=2, timeout=5, readonly=False,
                                  raiseSyncErrors=True)       # any start-up request left unanswered raises
            assert all(tws.stats.received[m] == 1 for m in (61, 5, 99, 6, 76, 7))
            ib.disconnect()
    run(scenario())


def test_snapshot_carries_the_file_quotes(spx_chain):
    option = next(o for o in spx_chain.options if o.bid > 1 and o.ask > o.bid and o.iv > 0 and o.last > 0)

    async def scenario():
        async with FakeTws([spx_chain]) as tws:
            ib = await connected(tws)
            contract = Option(conId=option.con_id, exchange="SMART")
            [ticker] = await asyncio.wait_for(ib.reqTickersAsync(contract), 5)
            assert (ticker.bid, ticker.ask, ticker.last) == (option.bid, option.ask, option.last)
            assert ticker.modelGreeks.impliedVol == option.iv
            assert ticker.modelGreeks.undPrice == spx_chain.spot
            assert ticker.marketDataType == 1
            ib.disconnect()
    run(scenario())


def test_unknown_contract_is_error_200_and_qualify_returns_none(spx_chain):
    async def scenario():
        async with FakeTws([spx_chain]) as tws:
            ib = await connected(tws)
            log = ErrorLog(ib)
            result = await ib.qualifyContractsAsync(Option("SPX", "20220617", 123456.0, "C", "SMART"))
            assert result == [None]
            assert 200 in log.codes()
            ib.disconnect()
    run(scenario())


def test_snapshot_with_generic_ticks_is_refused_with_321(spx_chain):
    option = spx_chain.options[100]

    async def scenario():
        async with FakeTws([spx_chain]) as tws:
            ib = await connected(tws)
            log = ErrorLog(ib)
            ib.reqMktData(Option(conId=option.con_id, exchange="SMART"), "101", snapshot=True)
            await log.wait_for(321)
            ib.disconnect()
    run(scenario())


def test_a_burst_over_50_messages_per_second_gets_error_100(spx_chain):
    async def scenario():
        async with FakeTws([spx_chain]) as tws:
            ib = await connected(tws)
            log = ErrorLog(ib)
            ib.client.MaxRequests = 0  # switch the client's own 45/s throttle off to overrun the server
            started = time.monotonic()
            for option in spx_chain.options[:120]:
                ib.reqMktData(Option(conId=option.con_id, exchange="SMART"), "", snapshot=True)
            await log.wait_for(100)
            stats = tws.stats
            # Every request answered one way or the other (bounded): accepted, or refused with error 100.
            for _ in range(200):
                if stats.received[REQ_MKT_DATA] + stats.errors_sent[100] >= 120:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            assert stats.received[REQ_MKT_DATA] + stats.errors_sent[100] == 120
            # A loaded machine spreads the burst, and the bucket refills meanwhile: never more than one
            # second's worth plus what the burst's duration earned was accepted; the rest was refused.
            assert stats.errors_sent[100] > 0
            assert stats.received[REQ_MKT_DATA] <= 50 + 50 * elapsed
            ib.disconnect()
    run(scenario())


def test_closed_market_sends_placeholders_and_frozen_sends_the_close(spx_chain):
    option = next(o for o in spx_chain.options if o.bid > 1 and o.ask > o.bid and o.last > 0)

    async def scenario():
        async with FakeTws([spx_chain], FaultKnobs(market_open=False, closed_price="nan")) as tws:
            ib = await connected(tws)
            contract = Option(conId=option.con_id, exchange="SMART")
            [live] = await asyncio.wait_for(ib.reqTickersAsync(contract), 5)
            assert live.marketDataType == 1 and math.isnan(live.last)
            ib.reqMarketDataType(2)
            [frozen] = await asyncio.wait_for(ib.reqTickersAsync(contract), 5)
            assert frozen.marketDataType == 2 and frozen.bid == option.bid
            ib.disconnect()
    run(scenario())


def test_unsubscribed_market_data_is_354_and_identical_history_within_15_s_is_162(spx_chain):
    async def scenario():
        async with FakeTws([spx_chain], FaultKnobs(unsubscribed_symbols={"SPX"})) as tws:
            ib = await connected(tws)
            log = ErrorLog(ib)
            contract = Option(conId=spx_chain.options[0].con_id, exchange="SMART")
            await asyncio.wait_for(ib.reqTickersAsync(contract), 5)
            assert 354 in log.codes()
            index = Index(conId=spx_chain.underlying_con_id, symbol="SPX", exchange="CBOE")
            first = await ib.reqHistoricalDataAsync(index, "", "1 D", "1 day", "TRADES", True, timeout=5)
            assert first and first[-1].close == spx_chain.spot
            again = await ib.reqHistoricalDataAsync(index, "", "1 D", "1 day", "TRADES", True, timeout=5)
            assert not again and 162 in log.codes()
            ib.disconnect()
    run(scenario())


def test_streams_beyond_the_line_limit_get_101_and_disconnect_mid_batch(spx_chain):
    async def scenario():
        knobs = FaultKnobs(max_lines=3, drop_after_snapshots=2)
        async with FakeTws([spx_chain], knobs) as tws:
            ib = await connected(tws)
            log = ErrorLog(ib)
            for option in spx_chain.options[:4]:
                ib.reqMktData(Option(conId=option.con_id, exchange="SMART"), "101", snapshot=False)
            await log.wait_for(101)
            for ticker in list(ib.tickers()):
                ib.cancelMktData(ticker.contract)
            lost = asyncio.Event()
            ib.disconnectedEvent += lost.set
            for option in spx_chain.options[10:13]:
                ib.reqMktData(Option(conId=option.con_id, exchange="SMART"), "", snapshot=True)
            await asyncio.wait_for(lost.wait(), 5)
            assert not ib.isConnected()
    run(scenario())
