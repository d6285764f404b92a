"""Spot x vol stress of the book: P&L and margin when every underlying moves together.

Each cell moves every underlying by the same relative ``spot`` shock (futures
and the options' mapped futures alike) and every option's implied volatility by
``vol`` points (floored at 1%), at the same time to expiry, and reprices the
options with the pricing model (Black-76 on the future). P&L is against the
current marks (the model's value at today's IV, so an unshocked cell is 0);
margin is the CFFEX short-option rule and the futures' margin ratio at the
shocked prices (what the exchange would ask after the move).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType

SPOT_SHOCKS = (-0.10, -0.05, -0.03, 0.0, 0.03, 0.05, 0.10)
VOL_SHOCKS = (-10.0, -5.0, 0.0, 5.0, 10.0)  # vol points
LOWEST_STRESSED_VOL = 0.01


@dataclass(frozen=True)
class StressedOption:
    contract: OptionContract
    lots: int              # signed
    multiplier: float
    underlying_price: float
    volatility: float      # decimal
    years: float


@dataclass(frozen=True)
class StressedFuture:
    vt_symbol: str
    lots: int
    multiplier: float
    price: float
    margin_ratio: float


@dataclass(frozen=True)
class StressCell:
    spot: float
    vol: float
    pnl: float
    margin: float


@dataclass(frozen=True)
class StressGrid:
    cells: tuple[StressCell, ...]
    base_margin: float

    @property
    def worst(self) -> StressCell | None:
        return min(self.cells, key=lambda cell: cell.pnl) if self.cells else None

    def as_dict(self) -> dict:
        worst = self.worst
        return {
            "spot_shocks": list(SPOT_SHOCKS), "vol_shocks_points": list(VOL_SHOCKS),
            "pnl": [[self._cell(s, v).pnl for s in SPOT_SHOCKS] for v in VOL_SHOCKS],
            "margin": [[self._cell(s, v).margin for s in SPOT_SHOCKS] for v in VOL_SHOCKS],
            "base_margin": self.base_margin,
            "worst": None if worst is None else {"spot": worst.spot, "vol": worst.vol, "pnl": worst.pnl,
                                                 "margin": worst.margin},
        }

    def _cell(self, spot: float, vol: float) -> StressCell:
        for cell in self.cells:
            if cell.spot == spot and cell.vol == vol:
                return cell
        raise KeyError((spot, vol))


ShortMargin = Callable[[OptionContract, float, float], float]  # (contract, option price, underlying) -> per lot


def stress_grid(options: Sequence[StressedOption], futures: Sequence[StressedFuture], calculator: GreeksCalculator,
                rate: float, short_margin: ShortMargin, broker_margin_multiplier: float = 1.0) -> StressGrid:
    """The grid of ``SPOT_SHOCKS`` x ``VOL_SHOCKS`` for the given book."""
    kinds = np.array([1 if o.contract.option_type is OptionType.CALL else -1 for o in options], dtype=float)
    strikes = np.array([o.contract.strike for o in options], dtype=float)
    forwards = np.array([o.underlying_price for o in options], dtype=float)
    vols = np.array([o.volatility for o in options], dtype=float)
    years = np.array([o.years for o in options], dtype=float)
    scale = np.array([o.lots * o.multiplier for o in options], dtype=float)
    base = _prices(calculator, kinds, forwards, strikes, years, rate, vols)

    def margin_at(spot: float, prices: np.ndarray) -> float:
        total = 0.0
        for index, option in enumerate(options):
            if option.lots < 0:
                total += -option.lots * short_margin(option.contract, float(max(prices[index], 0.0)),
                                                     option.underlying_price * (1.0 + spot))
        for future in futures:
            total += (abs(future.lots) * future.price * (1.0 + spot) * future.multiplier * future.margin_ratio
                      * broker_margin_multiplier)
        return total

    # Every cell at once: rows are the cells (vol-major), columns the options.
    grid = [(spot, vol) for vol in VOL_SHOCKS for spot in SPOT_SHOCKS]
    spots = np.array([spot for spot, _ in grid])[:, None]
    shocked_vols = np.maximum(vols[None, :] + np.array([vol for _, vol in grid])[:, None] / 100.0,
                              LOWEST_STRESSED_VOL)
    shape = (len(grid), len(options))
    prices = _prices(calculator, np.broadcast_to(kinds, shape), forwards[None, :] * (1.0 + spots),
                     np.broadcast_to(strikes, shape), np.broadcast_to(years, shape), rate, shocked_vols)
    futures_pnl = [sum(f.lots * f.multiplier * f.price * spot for f in futures) for spot, _ in grid]
    cells = []
    for row, (spot, vol) in enumerate(grid):
        pnl = float(np.sum(scale * (prices[row] - base))) if len(options) else 0.0
        cells.append(StressCell(spot, vol, pnl + futures_pnl[row], margin_at(spot, prices[row])))
    return StressGrid(tuple(cells), margin_at(0.0, base))


def _prices(calculator, kinds, forwards, strikes, years, rate, vols) -> np.ndarray:
    if np.size(kinds) == 0:
        return np.zeros(np.shape(kinds))
    return np.nan_to_num(calculator.calculate_batch(kinds, forwards, strikes, years, rate, vols).price)
