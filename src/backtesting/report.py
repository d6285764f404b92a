"""What a backtest leaves behind: a statistics table, summary.json, trades.csv and chart.html."""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from vnpy.trader.object import TradeData

STATISTICS_LABELS = (
    ("start_date", "Start date"),
    ("end_date", "End date"),
    ("total_days", "Trading days"),
    ("profit_days", "Profitable days"),
    ("loss_days", "Losing days"),
    ("capital", "Starting capital"),
    ("end_balance", "Ending balance"),
    ("total_return", "Total return %"),
    ("annual_return", "Annual return %"),
    ("max_drawdown", "Max drawdown"),
    ("max_ddpercent", "Max drawdown %"),
    ("max_drawdown_duration", "Max drawdown days"),
    ("total_net_pnl", "Total net PnL"),
    ("total_commission", "Total commission"),
    ("total_slippage", "Total slippage"),
    ("total_turnover", "Total turnover"),
    ("total_trade_count", "Trades"),
    ("sharpe_ratio", "Sharpe ratio"),
    ("return_drawdown_ratio", "Return / drawdown"),
)

TRADE_COLUMNS = ("datetime", "vt_symbol", "kind", "direction", "offset", "price", "volume", "vt_tradeid",
                 "vt_orderid")


@dataclass(frozen=True)
class TradeCounts:
    total: int
    options: int
    futures: int


def count_trades(trades: Iterable[TradeData], is_option: Callable[[str], bool]) -> TradeCounts:
    trades = list(trades)
    options = sum(1 for trade in trades if is_option(trade.vt_symbol))
    return TradeCounts(total=len(trades), options=options, futures=len(trades) - options)


def to_json_value(value: Any) -> Any:
    """vnpy's statistics hold numpy scalars and dates; JSON wants plain values (NaN/inf become null)."""
    if isinstance(value, Mapping):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_summary(path: Path, statistics: Mapping[str, Any], counts: TradeCounts, start: date, end: date,
                  extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    summary = dict(to_json_value(statistics))
    summary.update({
        "trade_count": counts.total,
        "option_trade_count": counts.options,
        "future_trade_count": counts.futures,
        "start": start.isoformat(),
        "end": end.isoformat(),
    })
    summary.update(to_json_value(dict(extra or {})))
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary


def write_trades(path: Path, trades: Iterable[TradeData], is_option: Callable[[str], bool]) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(TRADE_COLUMNS)
        for trade in sorted(trades, key=lambda t: (t.datetime, t.vt_tradeid)):
            writer.writerow((trade.datetime.isoformat() if trade.datetime else "", trade.vt_symbol,
                             "option" if is_option(trade.vt_symbol) else "future", trade.direction.value,
                             trade.offset.value, trade.price, trade.volume, trade.vt_tradeid, trade.vt_orderid))


def write_chart(path: Path, daily: pd.DataFrame, title: str) -> None:
    """Equity, drawdown and daily PnL, one self-contained HTML file (works offline)."""
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    figure = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                           subplot_titles=("Equity", "Drawdown", "Daily net PnL"))
    if daily is not None and not daily.empty:
        index = [str(day) for day in daily.index]
        figure.add_trace(go.Scatter(x=index, y=daily["balance"], mode="lines", name="balance"), row=1, col=1)
        figure.add_trace(go.Scatter(x=index, y=daily["drawdown"], mode="lines", fill="tozeroy", name="drawdown",
                                    line={"color": "firebrick"}), row=2, col=1)
        colors = ["seagreen" if value >= 0 else "firebrick" for value in daily["net_pnl"]]
        figure.add_trace(go.Bar(x=index, y=daily["net_pnl"], name="net PnL", marker_color=colors), row=3, col=1)
    figure.update_layout(title=title, height=900, showlegend=False, template="plotly_white")
    figure.write_html(str(path), include_plotlyjs=True, full_html=True)


def format_statistics(statistics: Mapping[str, Any], counts: TradeCounts) -> str:
    rows = [(label, _format_value(statistics.get(key))) for key, label in STATISTICS_LABELS if key in statistics]
    rows += [("Option trades", str(counts.options)), ("Future trades", str(counts.futures))]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _format_value(value: Any) -> str:
    value = to_json_value(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)
