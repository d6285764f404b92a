"""The backtest report: premium flows on known fills, and a chart.html that holds every section offline."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
from vnpy.trader.constant import Direction, Exchange, Offset
from vnpy.trader.object import TradeData

from src.backtesting.book_recorder import BookRecorder
from src.backtesting.report import premium_flows, write_chart

CST = ZoneInfo("Asia/Shanghai")


def trade(symbol: str, direction: Direction, offset: Offset, price: float, volume: int, minute: int) -> TradeData:
    return TradeData(gateway_name="BACKTESTING", symbol=symbol, exchange=Exchange.CFFEX, orderid=f"o{minute}",
                     tradeid=f"t{minute}", direction=direction, offset=offset, price=price, volume=volume,
                     datetime=datetime(2026, 1, 12, 10, minute, tzinfo=CST))


FILLS = [trade("IO2602-P-4200", Direction.SHORT, Offset.OPEN, 40.0, 2, 1),
         trade("IO2602-P-4200", Direction.LONG, Offset.CLOSE, 30.0, 2, 20),
         trade("MO2602-C-8000", Direction.SHORT, Offset.OPEN, 100.0, 1, 30),
         trade("IF2602", Direction.LONG, Offset.OPEN, 4600.0, 1, 40)]


def is_option(vt_symbol: str) -> bool:
    return "-" in vt_symbol


def test_premium_is_collected_by_sales_and_paid_back_by_purchases_per_product_and_leg():
    flows = premium_flows(FILLS, is_option, lambda vt: 100.0)
    assert flows == {"IO puts": {"collected": 8_000.0, "paid back": 6_000.0},
                     "MO calls": {"collected": 10_000.0, "paid back": 0.0}}


def test_the_chart_holds_every_section_and_loads_nothing_from_the_network(tmp_path):
    book = BookRecorder(every_minutes=15)
    for minute in range(0, 60, 5):
        snapshot = {"greeks": {"delta": 0.5, "gamma": 0.01, "vega": -20.0, "theta": 5.0}, "pnl": {"total": 100.0},
                    "account": {"balance": 1_000_100.0, "margin": 150_000.0}, "underlying": {"IF": 4600.0 + minute}}
        book.record_snapshot("s", snapshot, datetime(2026, 1, 12, 10, minute, tzinfo=CST))
    assert [sample.at.minute for sample in book.samples] == [0, 15, 30, 45]
    daily = pd.DataFrame({"balance": [1e6, 1.01e6], "drawdown": [0.0, 0.0], "net_pnl": [0.0, 1e4]},
                         index=[datetime(2026, 1, 12).date(), datetime(2026, 1, 13).date()])
    path = tmp_path / "chart.html"
    write_chart(path, daily, "run", statistics_rows=[("Period", "2026-01-12 to 2026-01-13")],
                samples=book.samples, trades=FILLS, flows=premium_flows(FILLS, is_option, lambda vt: 100.0),
                open_positions=[{"contract": "IO2602-P-4200.CFFEX", "lots": 2}], working_orders=[])
    html = path.read_text(encoding="utf-8")
    for title in ("Statistics", "Underlying (active future) and option trades", "Book delta and gamma",
                  "Margin and capital use", "Option premium by product and leg", "Open at the end",
                  "Working orders at the end", "no orders"):
        assert title in html
    # plotly.js is inlined: no script is loaded from elsewhere (its bundle mentions its CDN in comments).
    assert "<script src=" not in html and "plotly" in html
