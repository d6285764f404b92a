"""The hedge's band (floor of one futures lot, Whalley-Wilmott) and its contract (the options' month)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.hedge_band import (
    choose_hedge_contract,
    effective_band,
    whalley_wilmott_band_lots,
)
from src.strategy.domain.value_object.hedging_config import HedgingConfig

FIXED = HedgingConfig(hedging_band=0.5, delta_hedging_enabled=True)
WW = HedgingConfig(hedging_band=0.5, delta_hedging_enabled=True, band_model="whalley_wilmott", cost_rate=1e-4,
                   risk_aversion=1e-6)


def test_the_band_is_never_narrower_than_one_lot_of_the_hedge_future():
    assert effective_band(FIXED) == 1.0
    assert effective_band(HedgingConfig(hedging_band=2.5)) == 2.5
    assert effective_band(HedgingConfig(hedging_band=0.5, min_band_lots=0.0)) == 0.5


def test_whalley_wilmott_band_by_hand():
    """Short 30 IO lots of gamma 0.0015: 4.5 index units per point; F 4,600; IF multiplier 300."""
    gamma_units = -30 * 100 * 0.0015
    expected = (3 * 1e-4 * 4600 * gamma_units ** 2 / (2 * 1e-6)) ** (1 / 3) / 300
    assert whalley_wilmott_band_lots(gamma_units, 4600.0, 1e-4, 1e-6, 300.0) == pytest.approx(expected)
    assert expected == pytest.approx(0.806, abs=0.01)
    assert effective_band(WW, gamma_units, 4600.0, 300.0) == pytest.approx(1.0)  # the floor still holds
    assert effective_band(WW, 4 * gamma_units, 4600.0, 300.0) == pytest.approx(expected * 4 ** (2 / 3))


@settings(max_examples=50, deadline=None)
@given(st.floats(0.1, 100.0), st.floats(1.01, 10.0))
def test_more_gamma_or_dearer_trading_widens_the_cost_aware_band(gamma, factor):
    base = whalley_wilmott_band_lots(gamma, 4600.0, 1e-4, 1e-6, 300.0)
    assert whalley_wilmott_band_lots(gamma * factor, 4600.0, 1e-4, 1e-6, 300.0) > base
    assert whalley_wilmott_band_lots(gamma, 4600.0, 1e-4 * factor, 1e-6, 300.0) > base
    assert whalley_wilmott_band_lots(gamma, 4600.0, 1e-4, 1e-6 * factor, 300.0) < base


def test_the_options_month_hedges_where_it_trades_else_the_dominant_month_with_the_basis():
    deltas = {"IF2602.CFFEX": 1.7, "IF2603.CFFEX": -0.4}
    prices = {"IF2602.CFFEX": 4601.0, "IF2603.CFFEX": 4585.4}
    chosen = choose_hedge_contract(FIXED, "IF2603.CFFEX", deltas, {"IF2602.CFFEX": True}, prices)
    assert (chosen.vt_symbol, chosen.note) == ("IF2602.CFFEX", None)
    fallback = choose_hedge_contract(FIXED, "IF2603.CFFEX", deltas, {"IF2602.CFFEX": False}, prices)
    assert fallback.vt_symbol == "IF2603.CFFEX" and "basis IF2602.CFFEX - IF2603.CFFEX +15.6 points" in fallback.note
    dominant = HedgingConfig(hedge_month="dominant")
    assert choose_hedge_contract(dominant, "IF2603.CFFEX", deltas, {"IF2602.CFFEX": True}, prices).vt_symbol == \
        "IF2603.CFFEX"


def test_hedging_settings_are_validated():
    with pytest.raises(ValueError, match="band_model"):
        HedgingConfig(band_model="optimal")
    with pytest.raises(ValueError, match="hedge_month"):
        HedgingConfig(hedge_month="next")
    with pytest.raises(ValueError):
        HedgingConfig(min_band_lots=-1.0)
