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
    ("start_date", "First day with a result"),
    ("end_date", "Last day with a result"),
    ("total_days", "Trading days"),
    ("profit_days", "Profitable days"),
    ("loss_days", "Losing days"),
    ("capital", "Starting capital"),
    ("end_balance", "Ending balance"),
    ("total_return", "Total return %"),
    ("annual_return", "Annual return %"),
    ("max_drawdown", "Max drawdown"),
    ("max_ddpercent", "Max drawdown %"),
    ("max_drawdown_duration", "Max drawdown duration (calendar days)"),
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


def premium_flows(trades: Iterable[TradeData], is_option: Callable[[str], bool],
                  multiplier: Callable[[str], float]) -> dict[str, dict[str, float]]:
    """Option premium per product and leg (calls, puts): collected by sales, paid back by purchases, in CNY."""
    flows: dict[str, dict[str, float]] = {}
    for trade in trades:
        if not is_option(trade.vt_symbol):
            continue
        symbol = trade.vt_symbol.split(".")[0]
        product, leg = symbol.split("-")[0].rstrip("0123456789"), "call" if "-C-" in symbol else "put"
        key = f"{product} {leg}s"
        amount = trade.price * trade.volume * multiplier(trade.vt_symbol)
        side = "collected" if trade.direction.name == "SHORT" else "paid back"
        flows.setdefault(key, {"collected": 0.0, "paid back": 0.0})[side] += amount
    return flows


def write_chart(path: Path, daily: pd.DataFrame, title: str, *, statistics_rows: Iterable[tuple[str, str]] = (),
                samples: Iterable = (), trades: Iterable[TradeData] = (), flows: Mapping | None = None,
                open_positions: Iterable[Mapping] = (), working_orders: Iterable[Mapping] = (),
                attribution: Mapping | None = None) -> None:
    """The report a trader reads, one self-contained HTML file (plotly, works offline).

    The statistics; equity, drawdown and daily P&L on a trading-day axis (no weekend segments); the
    underlying with the option trades marked; the book's Greeks, margin and capital use over time
    (``samples``: ``BookSample``s); premium collected and paid back per product and leg; the P&L
    attribution per day (``attribution``: the summary's, stacked by component); the positions still
    open and the orders still working at the end.
    """
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    samples = list(samples)
    trades = sorted(trades, key=lambda trade: trade.datetime)
    statistics_rows = list(statistics_rows)
    open_positions, working_orders = list(open_positions), list(working_orders)
    titles = ("Statistics", "Equity", "Drawdown", "Daily net P&L (trading days)",
              "Underlying (active future) and option trades", "Book delta and gamma (per index point, lots)",
              "Book vega and theta (points per vol point / per day)", "Margin and capital use",
              "Option premium by product and leg (CNY)",
              "P&L attribution, cumulative by day (CNY): Greeks at the previous mark, execution, hedges, fees",
              "Open at the end", "Working orders at the end")
    specs = [[{"type": "table"}]] + [[{"type": "xy"}]] * 9 + [[{"type": "table"}], [{"type": "table"}]]
    figure = make_subplots(rows=12, cols=1, specs=specs, subplot_titles=titles, vertical_spacing=0.022,
                           row_heights=[0.9, 1, 0.6, 0.6, 1, 0.8, 0.8, 0.8, 0.8, 0.9, 0.5, 0.5])
    figure.add_trace(go.Table(header={"values": ["", ""]}, cells={
        "values": [[label for label, _ in statistics_rows], [value for _, value in statistics_rows]],
        "align": ["left", "right"]}), row=1, col=1)
    if daily is not None and not daily.empty:
        days = [str(day) for day in daily.index]
        figure.add_trace(go.Scatter(x=days, y=daily["balance"], mode="lines", name="balance"), row=2, col=1)
        figure.add_trace(go.Scatter(x=days, y=daily["drawdown"], mode="lines", fill="tozeroy", name="drawdown",
                                    line={"color": "firebrick"}), row=3, col=1)
        colors = ["seagreen" if value >= 0 else "firebrick" for value in daily["net_pnl"]]
        figure.add_trace(go.Bar(x=days, y=daily["net_pnl"], name="net P&L", marker_color=colors), row=4, col=1)
    if samples:
        moments = [f"{sample.at:%Y-%m-%d %H:%M}" for sample in samples]
        products = sorted({product for sample in samples for product in sample.underlying})
        for product in products:
            figure.add_trace(go.Scatter(x=moments, y=[s.underlying.get(product) for s in samples], mode="lines",
                                        name=product), row=5, col=1)
            sells = [trade for trade in trades if trade.vt_symbol.startswith(_OPTION_OF.get(product, "?"))]
            for opening, marker, color in ((True, "triangle-down", "firebrick"), (False, "triangle-up", "seagreen")):
                chosen = [trade for trade in sells if (trade.offset.name == "OPEN") == opening]
                figure.add_trace(go.Scatter(
                    x=[_sample_slot(samples, trade.datetime) for trade in chosen],
                    y=[_underlying_at(samples, product, trade.datetime) for trade in chosen], mode="markers",
                    marker={"symbol": marker, "size": 9, "color": color},
                    name=f"{product} options {'opened' if opening else 'closed'}",
                    text=[f"{trade.vt_symbol} {trade.direction.name} {trade.offset.name} {trade.volume:g} @ "
                          f"{trade.price:g}" for trade in chosen]), row=5, col=1)
        for row, names in ((6, ("delta", "gamma")), (7, ("vega", "theta"))):
            for name in names:
                figure.add_trace(go.Scatter(x=moments, y=[getattr(s, name) for s in samples], mode="lines",
                                            name=name), row=row, col=1)
        figure.add_trace(go.Scatter(x=moments, y=[s.margin for s in samples], mode="lines", name="margin"),
                         row=8, col=1)
        figure.add_trace(go.Scatter(x=moments, y=[s.balance for s in samples], mode="lines",
                                    name="balance (strategy's own)"), row=8, col=1)
    if flows:
        keys = sorted(flows)
        for side, color in (("collected", "seagreen"), ("paid back", "firebrick")):
            figure.add_trace(go.Bar(x=keys, y=[flows[key][side] for key in keys], name=f"premium {side}",
                                    marker_color=color), row=9, col=1)
    if attribution and attribution.get("by_day"):
        days = [day["day"] for day in attribution["by_day"]]
        for component in [*attribution.get("components", ()), "total"]:
            running, cumulative = 0.0, []
            for day in attribution["by_day"]:
                running += day[component]
                cumulative.append(running)
            figure.add_trace(go.Scatter(x=days, y=cumulative, mode="lines", name=f"P&L {component} (cumulative)",
                                        line={"color": "black", "width": 3} if component == "total" else None),
                             row=10, col=1)
    for row, rows, what in ((11, open_positions, "positions"), (12, working_orders, "orders")):
        # plotly.js cannot draw a table without rows: an empty one gets a row saying so.
        columns = list(rows[0]) if rows else [what]
        values = [[item.get(column) for item in rows] for column in columns] if rows else [[f"no {what}"]]
        figure.add_trace(go.Table(header={"values": columns}, cells={"values": values}), row=row, col=1)
    for row in range(2, 11):
        figure.update_xaxes(type="category", nticks=12, row=row, col=1)
    figure.update_layout(title=title, height=3500, template="plotly_white", barmode="group",
                         legend={"orientation": "h"})
    figure.write_html(str(path), include_plotlyjs=True, full_html=True)


# The option product of each futures product in the sample's and CFFEX's naming.
_OPTION_OF = {"IF": "IO", "IM": "MO", "IH": "HO"}


def _sample_slot(samples, moment: datetime) -> str:
    return f"{_nearest(samples, moment).at:%Y-%m-%d %H:%M}"


def _underlying_at(samples, product: str, moment: datetime) -> float | None:
    return _nearest(samples, moment).underlying.get(product)


def _nearest(samples, moment: datetime):
    """The last sample at or before ``moment`` (the first one before any)."""
    best = samples[0]
    for sample in samples:
        if sample.at > moment:
            break
        best = sample
    return best


def statistics_rows(statistics: Mapping[str, Any], counts: TradeCounts,
                    extra: Iterable[tuple[str, Any]] = ()) -> list[tuple[str, str]]:
    rows = [(label, _format_value(statistics.get(key))) for key, label in STATISTICS_LABELS if key in statistics]
    rows += [("Option trades", str(counts.options)), ("Future trades", str(counts.futures))]
    rows += [(label, _format_value(value)) for label, value in extra]
    return rows


def format_statistics(statistics: Mapping[str, Any], counts: TradeCounts,
                      extra: Iterable[tuple[str, Any]] = ()) -> str:
    rows = statistics_rows(statistics, counts, extra)
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _format_value(value: Any) -> str:
    value = to_json_value(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)
