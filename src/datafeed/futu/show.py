"""``stats show``: the stored statistics as a table, and an offline plotly chart of call/put/total and the ratio."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from src.strategy.infrastructure.persistence.option_market_statistics import StoredStatistic


def format_table(rows: Sequence[StoredStatistic], last: int) -> list[str]:
    """The last ``last`` rows, newest first, as aligned text lines."""
    shown = list(reversed(rows[-last:])) if last > 0 else []
    lines = [f"{'date':<10}  {'call':>14}  {'put':>14}  {'total':>14}  {'put/call':>8}"]
    for row in shown:
        ratio = "N/A" if row.ratio is None else f"{row.ratio:.4f}"
        lines.append(f"{row.trade_date.isoformat():<10}  {row.call_value:>14,}  {row.put_value:>14,}  "
                     f"{row.total_value:>14,}  {ratio:>8}")
    return lines


def write_chart(rows: Sequence[StoredStatistic], path: Path, title: str) -> Path:
    """An HTML file with plotly.js inside (no CDN): values on top, the put/call ratio below."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    dates = [row.trade_date for row in rows]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.05,
                           subplot_titles=("call / put / total", "put / call ratio"))
    for name, values in (("call", [r.call_value for r in rows]), ("put", [r.put_value for r in rows]),
                         ("total", [r.total_value for r in rows])):
        figure.add_trace(go.Scatter(x=dates, y=values, name=name, mode="lines"), row=1, col=1)
    figure.add_trace(go.Scatter(x=dates, y=[r.ratio for r in rows], name="put/call", mode="lines",
                                connectgaps=False), row=2, col=1)
    figure.update_layout(title=title, hovermode="x unified", height=720)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path
