"""VolSurface value objects and VolSurfaceBuilder on synthetic chains with known answers."""
from __future__ import annotations

import math
import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.vol_surface_builder import (
    SviFit,
    RateFallbackWarning,
    SviParameters,
    VolSurfaceBuilder,
)
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.vol_surface import OptionChainSnapshot, OptionQuote, Smile, VolSurface

UTC = timezone.utc
NOW = datetime(2024, 3, 1, 7, 0, tzinfo=UTC)
BLACK = GreeksCalculator("black76")


# ----------------------------------------------------------------------------- value objects

smile_points = st.lists(st.tuples(st.floats(-1.0, 1.0), st.floats(0.05, 2.0)), min_size=1, max_size=15,
                        unique_by=lambda p: round(p[0], 3))


@st.composite
def smiles(draw):
    count = draw(st.integers(1, 6))
    times = sorted(draw(st.lists(st.floats(0.01, 3.0), min_size=count, max_size=count, unique_by=lambda x: round(x, 6))))
    out = []
    for t in times:
        points = sorted(draw(smile_points))
        out.append(Smile(t, draw(st.floats(50.0, 5000.0)), [p[0] for p in points], [p[1] for p in points]))
    return out


@settings(max_examples=150, deadline=None)
@given(smiles())
def test_surface_reproduces_the_quotes_it_was_built_from(input_smiles):
    surface = VolSurface.from_smiles(input_smiles)
    for smile in input_smiles:
        assert np.array_equal(surface.vol(smile.log_moneyness, smile.t), smile.vols)
        assert surface.vol_at_strike(smile.strikes, smile.t) == pytest.approx(smile.vols, rel=1e-9)


@settings(max_examples=150, deadline=None)
@given(smiles(), st.floats(-2.0, 2.0), st.floats(0.0, 4.0))
def test_bilinear_values_stay_within_the_surrounding_nodes(input_smiles, k, t):
    surface = VolSurface.from_smiles(input_smiles)
    value = surface.vol(k, t)
    assert surface.vols.min() - 1e-12 <= value <= surface.vols.max() + 1e-12
    # flat beyond the grid
    assert surface.vol(k, surface.expiries[-1] + 10.0) == pytest.approx(surface.vol(k, surface.expiries[-1]))
    assert surface.vol(surface.log_moneyness[0] - 5.0, t) == pytest.approx(surface.vol(surface.log_moneyness[0], t))


def test_bilinear_interpolation_is_linear_along_each_axis():
    surface = VolSurface(np.array([0.5, 1.0]), np.array([-0.1, 0.1]), np.array([[0.30, 0.20], [0.26, 0.22]]),
                         np.array([100.0, 101.0]))
    assert surface.vol(0.0, 0.5) == pytest.approx(0.25)
    assert surface.vol(-0.1, 0.75) == pytest.approx(0.28)
    assert surface.vol(0.0, 0.75) == pytest.approx(0.245)
    assert surface.forward(0.75) == pytest.approx(math.sqrt(100.0 * 101.0))
    term = surface.atm_term_structure()
    assert list(term.vols) == pytest.approx([0.25, 0.24])
    smile = surface.smile(1)
    assert smile.t == 1.0 and list(smile.vols) == [0.26, 0.22]
    assert surface.smile_at(0.75).vol(0.0) == pytest.approx(0.245)


def test_value_objects_are_validated():
    with pytest.raises(ValueError):
        VolSurface(np.array([1.0, 0.5]), np.array([0.0]), np.array([[0.2], [0.2]]), np.array([100.0, 100.0]))
    with pytest.raises(ValueError):
        VolSurface(np.array([1.0]), np.array([0.0, 0.1]), np.array([[0.2, -0.1]]), np.array([100.0]))
    with pytest.raises(ValueError):
        Smile(0.5, 100.0, [0.1, 0.0], [0.2, 0.2])
    with pytest.raises(ValueError):
        OptionQuote(NOW, 100.0, OptionType.CALL, bid=2.0, ask=1.0)
    with pytest.raises(ValueError):
        OptionQuote(NOW, -1.0, "C", bid=1.0, ask=2.0)
    with pytest.raises(ValueError):
        OptionChainSnapshot(NOW.replace(tzinfo=None), 100.0, (OptionQuote(NOW, 100.0, "P", 1.0, 1.2),))
    quote = OptionQuote(NOW, 100.0, "p", 1.0, 1.2)
    assert quote.option_type is OptionType.PUT and quote.mid == pytest.approx(1.1)
    assert math.isnan(OptionQuote(NOW, 100.0, "C", 0.0, 1.2).mid)
    surface = VolSurface(np.array([1.0]), np.array([0.0]), np.array([[0.2]]), np.array([100.0]))
    with pytest.raises(ValueError):
        surface.vols[0, 0] = 0.3


# ----------------------------------------------------------------------------- builder on a synthetic chain

TRUE_SVI = {  # (a, b, rho, m, sigma) per expiry in days, an equity-like skew
    30: (0.002, 0.06, -0.6, 0.02, 0.08),
    91: (0.008, 0.09, -0.55, 0.03, 0.12),
    182: (0.018, 0.11, -0.5, 0.04, 0.15),
}


def synthetic_chain(spot=3000.0, rate=0.025, carry=0.01, half_spread_vol=0.004, hint_only_expiry=None):
    quotes, truth = [], {}
    strikes = np.arange(2100.0, 3901.0, 50.0)
    for days, params in TRUE_SVI.items():
        expiry = NOW + timedelta(days=days)
        t = days / 365.0
        forward = spot * math.exp(carry * t)
        svi = SviParameters(*params)
        k = np.log(strikes / forward)
        vols = svi.implied_vol(k, t)
        truth[expiry] = (forward, math.exp(-rate * t), svi, t)
        for option_type, sign in ((OptionType.CALL, 1), (OptionType.PUT, -1)):
            if hint_only_expiry == days:
                continue
            mid = BLACK.calculate_batch(sign, forward, strikes, t, rate, vols).price
            bid = BLACK.calculate_batch(sign, forward, strikes, t, rate, vols - half_spread_vol).price
            ask = BLACK.calculate_batch(sign, forward, strikes, t, rate, vols + half_spread_vol).price
            for i, strike in enumerate(strikes):
                if bid[i] <= 0.01:  # like an exchange: no bid on the far wings
                    continue
                quotes.append(OptionQuote(expiry, float(strike), option_type, float(bid[i]), float(ask[i]),
                                          last=float(mid[i]), volume=10))
    hints = {}
    if hint_only_expiry is not None:
        expiry = NOW + timedelta(days=hint_only_expiry)
        hints[expiry] = truth[expiry][0]
        quotes.append(OptionQuote(expiry, 3000.0, OptionType.CALL, 0.0, 0.0))
    return OptionChainSnapshot(NOW, spot, tuple(quotes), hints, rate), truth


def test_builder_recovers_forward_discount_and_vols():
    snapshot, truth = synthetic_chain()
    build = VolSurfaceBuilder().build(snapshot)
    assert len(build.forwards) == 3
    for estimate in build.forwards:
        forward, discount, svi, t = truth[estimate.expiry]
        assert estimate.source == "parity"
        assert estimate.forward == pytest.approx(forward, rel=1e-6)
        assert estimate.discount == pytest.approx(discount, rel=1e-6)
    for qv in build.quotes:
        forward, discount, svi, t = truth[qv.quote.expiry]
        true_vol = float(svi.implied_vol(np.log(qv.quote.strike / forward), t))
        if np.isfinite(qv.iv_bid) and np.isfinite(qv.iv_ask):
            # mids of bid/ask prices are not the price of the mid vol, so the band is the honest check
            assert qv.iv_bid - 1e-6 <= true_vol <= qv.iv_ask + 1e-6
    # out-of-the-money selection
    for qv in build.quotes:
        assert qv.out_of_the_money == ((qv.quote.option_type is OptionType.CALL) == (qv.quote.strike >= qv.forward))


def test_surface_interpolation_reproduces_the_market_quotes():
    snapshot, _ = synthetic_chain()
    build = VolSurfaceBuilder().build(snapshot)
    used = [qv for qv in build.quotes if qv.out_of_the_money and np.isfinite(qv.iv_mid)]
    assert used
    for qv in used:
        assert build.surface.vol(qv.log_moneyness, qv.t) == pytest.approx(qv.iv_mid, abs=1e-14)


def test_svi_fit_recovers_a_true_svi_smile_inside_the_spread():
    snapshot, truth = synthetic_chain(half_spread_vol=0.002)
    build = VolSurfaceBuilder(svi_window_std=None).build(snapshot)
    assert len(build.svi) == 3
    for fit in build.svi:
        forward, _, svi, t = truth[fit.expiry]
        k = np.linspace(fit.k_min, fit.k_max, 50)
        assert np.max(np.abs(fit.implied_vol(k) - svi.implied_vol(k, t))) < 0.002
        assert fit.inside_bid_ask == fit.banded_quotes
    assert build.arbitrage.is_free, build.arbitrage.summary()


def test_forward_falls_back_to_the_futures_hint_without_parity_quotes():
    snapshot, truth = synthetic_chain(hint_only_expiry=91)
    build = VolSurfaceBuilder().build(snapshot)
    estimate = next(f for f in build.forwards if f.expiry == NOW + timedelta(days=91))
    assert estimate.source == "futures"
    assert estimate.forward == truth[estimate.expiry][0]
    assert estimate.discount == pytest.approx(math.exp(-0.025 * 91 / 365))


def test_expired_expiries_are_skipped():
    past = OptionQuote(NOW - timedelta(hours=1), 3000.0, OptionType.CALL, 1.0, 2.0)
    snapshot, _ = synthetic_chain()
    snapshot = OptionChainSnapshot(NOW, snapshot.underlying_price, snapshot.quotes + (past,), {}, 0.025)
    build = VolSurfaceBuilder().build(snapshot)
    assert all(f.t > 0 for f in build.forwards) and len(build.forwards) == 3


# ----------------------------------------------------------------------------- arbitrage report

def fit_of(params, t, days, k_range=(-1.5, 1.5)):
    return SviFit(NOW + timedelta(days=days), t, 100.0, SviParameters(*params), 20, 0.0, 20, 20, *k_range)


def test_butterfly_arbitrage_is_reported_where_the_density_is_negative():
    # Axel Vogt's raw-SVI example (Gatheral & Jacquier 2014): arbitrage-free in the wings, not in the middle
    vogt = (-0.0410, 0.1331, 0.3060, 0.3586, 0.4153)
    params = SviParameters(*vogt)
    grid = np.linspace(-1.5, 1.5, 3001)
    assert params.density_function(grid).min() < 0
    report = VolSurfaceBuilder().arbitrage_report([fit_of(vogt, 1.0, 365)])
    assert report.butterfly and not report.calendar
    violation = report.butterfly[0]
    assert violation.min_g < 0 and violation.k_from < violation.k_to
    inside = np.linspace(violation.k_from, violation.k_to, 50)
    assert np.all(params.density_function(inside) < 1e-3)
    clean = VolSurfaceBuilder().arbitrage_report([fit_of((0.01, 0.1, -0.5, 0.0, 0.2), 1.0, 365)])
    assert clean.is_free


def test_calendar_arbitrage_is_reported_when_total_variance_falls():
    near = (0.04, 0.1, -0.5, 0.0, 0.2)
    far_lower = (0.02, 0.1, -0.5, 0.0, 0.2)  # less total variance at every k, yet later
    report = VolSurfaceBuilder().arbitrage_report([fit_of(near, 0.5, 182), fit_of(far_lower, 1.0, 365)])
    assert len(report.calendar) == 1
    violation = report.calendar[0]
    assert violation.near_total_variance > violation.far_total_variance
    assert violation.near_expiry < violation.far_expiry
    assert "calendar" in report.summary()
    fine = VolSurfaceBuilder().arbitrage_report([fit_of(far_lower, 0.5, 182), fit_of(near, 1.0, 365)])
    assert not fine.calendar


def _chain_with_snapshot_rate(true_rate: float, snapshot_rate: float):
    snapshot, truth = synthetic_chain(rate=true_rate)
    return OptionChainSnapshot(NOW, snapshot.underlying_price, snapshot.quotes, {}, snapshot_rate), truth


def test_rejected_parity_rate_falls_back_with_a_warning_naming_the_fallback():
    # parity implies 40 %, outside rate_bounds: the old code fell back to snapshot.rate = 0 without a word
    snapshot, truth = _chain_with_snapshot_rate(0.40, 0.0)
    with pytest.warns(RateFallbackWarning, match=r"3 of 3 expiries .*snapshot\.rate = 0\b.*rate="):
        build = VolSurfaceBuilder(fit_svi=False).build(snapshot)
    for estimate in build.forwards:
        assert estimate.source == "parity+rate"
        assert "outside rate_bounds" in estimate.note
        assert estimate.discount == 1.0


def test_a_given_rate_replaces_the_parity_discount_without_a_warning():
    snapshot, truth = _chain_with_snapshot_rate(0.40, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build = VolSurfaceBuilder(fit_svi=False).build(snapshot, rate=0.40)
    for estimate in build.forwards:
        forward, discount, _, t = truth[estimate.expiry]
        assert (estimate.source, estimate.note) == ("parity+rate", "")
        assert estimate.discount == pytest.approx(discount, rel=1e-12)
        assert estimate.forward == pytest.approx(forward, rel=1e-9)  # parity with the true D gives the true F


def test_a_given_rate_and_dividend_yield_carry_the_spot():
    snapshot, _ = synthetic_chain()
    build = VolSurfaceBuilder(fit_svi=False).build(snapshot, rate=0.03, dividend_yield=0.012)
    for estimate in build.forwards:
        assert estimate.source == "rate+dividend"
        assert estimate.forward == pytest.approx(3000.0 * math.exp((0.03 - 0.012) * estimate.t), rel=1e-12)
        assert estimate.discount == pytest.approx(math.exp(-0.03 * estimate.t), rel=1e-12)


@pytest.mark.parametrize("rate, dividend_yield", [(None, 0.01), (math.nan, None), (0.02, math.inf)])
def test_rate_inputs_are_checked(rate, dividend_yield):
    snapshot, _ = synthetic_chain()
    with pytest.raises(ValueError):
        VolSurfaceBuilder(fit_svi=False).build(snapshot, rate=rate, dividend_yield=dividend_yield)


def test_parity_inside_the_bounds_does_not_warn():
    snapshot, _ = synthetic_chain()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build = VolSurfaceBuilder(fit_svi=False).build(snapshot)
    assert all(estimate.note == "" for estimate in build.forwards)
