"""The sweep's HTML report (plotly, self-contained, opens offline): a heatmap of the objective over
two parameters (the best value over the other parameters) and, for walk-forward, the out-of-sample equity."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from src.backtesting.optimization.objective import Objective
from src.backtesting.optimization.worker import TaskResult


def heatmap_cells(results: Sequence[TaskResult], objective: Objective, x_key: str, y_key: str):
    """x values, y values and z[y][x]: the best objective value of feasible settings with those two values."""
    xs = sorted({dict(r.assignments)[x_key] for r in results}, key=_sort_key)
    ys = sorted({dict(r.assignments)[y_key] for r in results}, key=_sort_key)
    best: dict[tuple, float] = {}
    for result in results:
        setting = dict(result.assignments)
        score = objective.score(result.summary)
        if not math.isfinite(score):
            continue
        cell = (setting[x_key], setting[y_key])
        value = objective.value(result.summary)
        if cell not in best or (value > best[cell] if objective.maximize else value < best[cell]):
            best[cell] = value
    z = [[best.get((x, y)) for x in xs] for y in ys]
    return xs, ys, z


def _sort_key(value):
    return (0, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, str(value))


def write_report(path: Path, title: str, results: Sequence[TaskResult], objective: Objective,
                 keys: Sequence[str], oos_equity: Sequence[tuple[str, float]] | None = None) -> None:
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    panels = []
    if len(keys) >= 2:
        panels.append(f"{objective.metric} over {keys[0]} and {keys[1]}")
    elif keys:
        panels.append(f"{objective.metric} over {keys[0]}")
    if oos_equity:
        panels.append("Out-of-sample equity (stitched walk-forward)")
    figure = make_subplots(rows=max(1, len(panels)), cols=1, subplot_titles=panels or [title],
                           vertical_spacing=0.12)
    row = 1
    if len(keys) >= 2:
        xs, ys, z = heatmap_cells(results, objective, keys[0], keys[1])
        figure.add_trace(go.Heatmap(x=[str(x) for x in xs], y=[str(y) for y in ys], z=z, colorscale="RdYlGn",
                                    colorbar={"title": objective.metric}, hoverongaps=False), row=row, col=1)
        figure.update_xaxes(title_text=keys[0], type="category", row=row, col=1)
        figure.update_yaxes(title_text=keys[1], type="category", row=row, col=1)
        row += 1
    elif keys:
        xs, _, z = heatmap_cells([r for r in results], objective, keys[0], keys[0])
        figure.add_trace(go.Bar(x=[str(x) for x in xs], y=[z[i][i] for i in range(len(xs))]), row=row, col=1)
        row += 1
    if oos_equity:
        figure.add_trace(go.Scatter(x=[day for day, _ in oos_equity], y=[value for _, value in oos_equity],
                                    mode="lines", name="out-of-sample equity"), row=row, col=1)
    figure.update_layout(title=title, height=450 * max(1, len(panels)), showlegend=False, template="plotly_white")
    figure.write_html(str(path), include_plotlyjs=True, full_html=True)
