"""AllTickGateway, a real vnpy BaseGateway, against the local server; HK ticks become 1-minute bars via the recorder."""
from __future__ import annotations

import itertools
import time
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from vnpy.event import EventEngine
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_CONTRACT, EVENT_TICK
from vnpy.trader.object import SubscribeRequest

from src.datafeed.hk.gateway import AllTickGateway
from src.datafeed.hk.storage import TickStore
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation, open_database
from tests.integration.datafeed.hk.alltick_server import LocalAllTickServer, ServerThread
from tests.integration.datafeed.hk.support import TOKEN, Token

HK = ZoneInfo("Asia/Hong_Kong")
MARKET_START = datetime(2026, 12, 7, 10, 0, tzinfo=HK)  # a Monday morning


def market_clock(step_seconds: float):
    """The server's clock: HK trading time, advancing ``step_seconds`` per trade."""
    counter = itertools.count()
    start = MARKET_START.timestamp()
    return lambda: start + next(counter) * step_seconds


def fast_setting(server: LocalAllTickServer, codes: str = "700.HK,9988.HK") -> dict:
    return {"token": Token(TOKEN), "codes": codes, "url": server.url, "heartbeat_interval": 0.2,
            "request_interval": 0.0, "protocol_ping_interval": None, "compression": None, "stall_timeout": 30,
            "backoff_initial": 0.01, "backoff_max": 0.05}


def wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_gateway_publishes_contracts_and_ticks_with_depth_merged_into_the_last_trade(tmp_path, monkeypatch):
    server = LocalAllTickServer(trades_per_code=60, push_rate=600, depth_every=3, clock=market_clock(0.5))
    monkeypatch.setenv("ALLTICK_TOKEN", TOKEN)
    event_engine = EventEngine()
    ticks, contracts = [], []
    event_engine.register(EVENT_TICK, lambda event: ticks.append(event.data))
    event_engine.register(EVENT_CONTRACT, lambda event: contracts.append(event.data))
    event_engine.start()
    gateway = AllTickGateway(event_engine)
    gateway.store = store = TickStore(open_database(DatabaseLocation.sqlite(tmp_path / "raw.db"))).start()
    try:
        with ServerThread(server):
            gateway.connect({**fast_setting(server), "token": ""})  # the token comes from ALLTICK_TOKEN
            assert wait_until(lambda: len(contracts) == 2)
            for contract in contracts:
                gateway.subscribe(SubscribeRequest(contract.symbol, contract.exchange))
            assert wait_until(server.finished)
            assert wait_until(lambda: sum(t.last_volume > 0 for t in ticks) == 120)
            gateway.close()
    finally:
        event_engine.stop()
    assert sorted(c.vt_symbol for c in contracts) == ["700.SEHK", "9988.SEHK"]
    by_symbol = defaultdict(list)
    for tick in ticks:
        by_symbol[tick.symbol].append(tick)
    for symbol, series in by_symbol.items():
        assert all(t.exchange is Exchange.SEHK and t.gateway_name == "ALLTICK" for t in series)
        trades = [t for t in series if t.last_volume > 0]
        assert len(trades) == 60
        assert [t.volume for t in trades] == list(itertools.accumulate(t.last_volume for t in trades))
        assert all(a.datetime <= b.datetime for a, b in zip(series, series[1:]))
        quoted = [t for t in series if t.bid_price_1 and t.ask_price_1]
        assert quoted and all(t.bid_price_1 < t.ask_price_1 and t.bid_volume_5 > 0 for t in quoted)
    assert all(t.datetime.astimezone(HK).hour == 10 for t in ticks)
    assert store.trade_seqs("700.HK") == store.trade_seqs("9988.HK") == list(range(1, 61))


def test_hk_ticks_become_1_minute_bars_in_the_database_through_the_recorder(tmp_path):
    from src.core.config.config_loader import RecordedContract, RecorderSetting
    from src.core.config.env_settings import DatabaseSettings
    from src.core.config.secret_value import Secret
    from src.core.database_factory import create_database
    from src.main.process.recorder_process import MarketDataRecorder

    database = create_database(DatabaseSettings(driver="sqlite", database=str(tmp_path / "bars.db"), host="",
                                                port=3306, user="", password=Secret("")))
    server = LocalAllTickServer(trades_per_code=300, push_rate=1500, depth_every=4, clock=market_clock(0.5))
    event_engine = EventEngine()
    main_engine = MainEngine(event_engine)
    received = []
    event_engine.register(EVENT_TICK, lambda event: received.append(event.data) if event.data.last_volume else None)
    gateway = main_engine.add_gateway(AllTickGateway)
    recorder = main_engine.add_engine(MarketDataRecorder)
    contracts = tuple(RecordedContract(symbol, "SEHK", "ALLTICK") for symbol in ("700", "9988"))
    recorder.configure(RecorderSetting(tick=contracts, bar=contracts), database, flush_interval=0.05)
    try:
        with ServerThread(server):
            main_engine.connect(fast_setting(server), "ALLTICK")
            assert wait_until(lambda: len(recorder.subscribed) == 2)
            assert wait_until(server.finished)
            assert wait_until(lambda: len(received) == 600)
            gateway.close()
            recorder.close()
    finally:
        main_engine.close()

    assert recorder.pipeline.stats.ticks_discarded_total == 0
    for symbol in ("700", "9988"):
        trades = [t for t in received if t.symbol == symbol]
        expected = defaultdict(list)
        for tick in trades:
            expected[tick.datetime.astimezone(HK).replace(second=0, microsecond=0, tzinfo=None)].append(tick)
        bars = database.load_bar_data(symbol, Exchange.SEHK, Interval.MINUTE, MARKET_START - timedelta(hours=1),
                                      MARKET_START + timedelta(hours=1))
        assert len(bars) == len(expected) >= 5
        for bar in bars:
            minute = [t.last_price for t in expected[bar.datetime.astimezone(HK).replace(tzinfo=None)]]
            volume = sum(t.last_volume for t in expected[bar.datetime.astimezone(HK).replace(tzinfo=None)])
            assert (bar.open_price, bar.high_price, bar.low_price, bar.close_price) == \
                (minute[0], max(minute), min(minute), minute[-1])
            assert bar.volume == volume
