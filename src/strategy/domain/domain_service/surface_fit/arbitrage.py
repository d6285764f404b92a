"""Arbitrage report of fitted smiles: butterfly (Gatheral's g(k) < 0) and calendar (falling total variance).

Violations are reported, not repaired.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Sequence

import numpy as np

class Knotted(Protocol):
    def interior_knots(self) -> Sequence[float]: ...


class FittedSmile(Protocol):
    """What the report reads of a fitted smile (``vol_surface_builder.SviFit`` is one)."""

    expiry: datetime
    t: float
    k_min: float
    k_max: float
    correction: Knotted | None  # the smile correction, whose knots the grid includes

    def density_function(self, k: np.ndarray) -> np.ndarray: ...

    def total_variance(self, k: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ButterflyViolation:
    expiry: datetime
    k_from: float
    k_to: float
    min_g: float


@dataclass(frozen=True)
class CalendarViolation:
    near_expiry: datetime
    far_expiry: datetime
    k: float                    # where the decrease is largest
    near_total_variance: float
    far_total_variance: float
    points: int                 # grid points of the shared range that decrease


@dataclass(frozen=True)
class ArbitrageReport:
    butterfly: tuple[ButterflyViolation, ...]
    calendar: tuple[CalendarViolation, ...]
    expiries_checked: int

    @property
    def is_free(self) -> bool:
        return not self.butterfly and not self.calendar

    def summary(self) -> str:
        lines = [f"{self.expiries_checked} expiries checked: {len(self.butterfly)} butterfly and "
                 f"{len(self.calendar)} calendar violations"]
        for v in self.butterfly:
            lines.append(f"  butterfly {v.expiry:%Y-%m-%d %H:%M}: g(k) < 0 for k in [{v.k_from:+.3f}, {v.k_to:+.3f}],"
                         f" min g = {v.min_g:.3g}")
        for v in self.calendar:
            lines.append(f"  calendar {v.near_expiry:%Y-%m-%d %H:%M} -> {v.far_expiry:%Y-%m-%d %H:%M}: total variance"
                         f" falls at {v.points} points, worst at k = {v.k:+.3f}"
                         f" ({v.near_total_variance:.6f} -> {v.far_total_variance:.6f})")
        return "\n".join(lines)



def arbitrage_report(fits: Sequence[FittedSmile], grid_points: int) -> ArbitrageReport:
    """Butterfly and calendar arbitrage of the fitted smiles (SVI plus correction) inside their ranges.

    The butterfly grid has ``grid_points`` points plus, for a corrected smile,
    every knot of the correction and the midpoints between knots, so a dip
    between two knots is not stepped over.
    """
    butterfly: list[ButterflyViolation] = []
    calendar: list[CalendarViolation] = []
    ordered = sorted(fits, key=lambda fit: fit.t)
    for fit in ordered:
        knots = fit.correction.interior_knots() if fit.correction is not None else ()
        grid = arbitrage_grid(fit.k_min, fit.k_max, grid_points, knots)
        g = fit.density_function(grid)
        negative = g < 0.0
        for start, stop in _runs(negative):
            butterfly.append(ButterflyViolation(fit.expiry, float(grid[start]), float(grid[stop - 1]),
                                                float(g[start:stop].min())))
    for near, far in zip(ordered, ordered[1:]):
        low, high = max(near.k_min, far.k_min), min(near.k_max, far.k_max)
        if not high > low:
            continue
        grid = np.linspace(low, high, grid_points)
        w_near = near.total_variance(grid)
        w_far = far.total_variance(grid)
        drop = w_near - w_far
        # a decrease smaller than the rounding of the fits is not a violation
        falling = drop > 1e-9 * np.maximum(w_near, 1e-12)
        if falling.any():
            worst = int(np.argmax(drop))
            calendar.append(CalendarViolation(near.expiry, far.expiry, float(grid[worst]), float(w_near[worst]),
                                              float(w_far[worst]), int(falling.sum())))
    return ArbitrageReport(tuple(butterfly), tuple(calendar), len(ordered))


def arbitrage_grid(k_min: float, k_max: float, points: int, knots=()) -> np.ndarray:
    """``points`` even steps over [k_min, k_max] plus the given knots and the midpoints between them."""
    grid = np.linspace(k_min, k_max, points)
    knots = np.asarray(knots, dtype=np.float64)
    if knots.size:
        edges = np.unique(np.concatenate([[k_min], knots, [k_max]]))
        grid = np.concatenate([grid, edges, 0.5 * (edges[1:] + edges[:-1])])
        grid = np.unique(grid[(grid >= k_min) & (grid <= k_max)])
    return grid



def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where mask is True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))

