"""The spot x vol stress grid: P&L against today's model value and margin at the shocked prices."""
from __future__ import annotations

from datetime import date

import pytest

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService
from src.strategy.domain.domain_service.stress_grid import (
    SPOT_SHOCKS,
    VOL_SHOCKS,
    StressedFuture,
    StressedOption,
    stress_grid,
)
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType

PUT = OptionContract(vt_symbol="IO2602-P-4400.CFFEX", symbol="IO2602-P-4400", exchange="CFFEX", product="IO",
                     underlying_vt_symbol="IF2602.CFFEX", option_type=OptionType.PUT, strike=4400.0,
                     expiry=date(2026, 2, 24), multiplier=100.0, pricetick=0.2)
PARAMS = ContractParams(PUT.vt_symbol, 100.0, 0.2, 0.12)
SIZING = PositionSizingService()


def grid(options, futures=()):
    return stress_grid(options, list(futures), GreeksCalculator("black76"), 0.02,
                       lambda c, p, u: SIZING.short_option_margin(c, p, u, PARAMS))


def test_a_short_put_loses_most_when_the_index_falls_and_vol_rises_and_needs_more_margin():
    result = grid([StressedOption(PUT, -3, 100.0, 4600.0, 0.22, 20 / 256.1)])
    table = result.as_dict()
    assert len(result.cells) == len(SPOT_SHOCKS) * len(VOL_SHOCKS) == 35
    assert table["pnl"][VOL_SHOCKS.index(0.0)][SPOT_SHOCKS.index(0.0)] == pytest.approx(0.0, abs=1e-9)
    worst = result.worst
    assert (worst.spot, worst.vol) == (-0.10, 10.0) and worst.pnl < -30_000
    assert worst.margin > result.base_margin
    assert table["pnl"][VOL_SHOCKS.index(-10.0)][SPOT_SHOCKS.index(0.10)] > 0


def test_a_future_is_linear_and_hedges_the_delta():
    future = StressedFuture("IF2602.CFFEX", -1, 300.0, 4600.0, 0.12)
    table = grid([], [future]).as_dict()
    row = table["pnl"][VOL_SHOCKS.index(0.0)]
    assert row == pytest.approx([-1 * 300.0 * 4600.0 * s for s in SPOT_SHOCKS])
    assert table["base_margin"] == pytest.approx(4600.0 * 300.0 * 0.12)
