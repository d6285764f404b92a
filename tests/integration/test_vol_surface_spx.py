"""VolSurfaceBuilder on the real SPX chain of 2022-06-10 (Cboe delayed quotes, ../shared/data).

Settlement: ``SPX`` roots are AM-settled (expiry 09:30 ET), ``SPXW`` PM-settled
(16:00 ET); valuation is the close, 16:00 ET on 2022-06-10, and T is ACT/365.
The CSV parsing below is test code: the builder takes domain values.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from src.strategy.domain.domain_service.vol_surface_builder import VolSurfaceBuilder
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.vol_surface import OptionChainSnapshot, OptionQuote

pd = pytest.importorskip("pandas")

EASTERN = ZoneInfo("America/New_York")
VALUATION = datetime(2022, 6, 10, 16, 0, tzinfo=EASTERN)
FILE = ("cboe_index_option_chains", "spx_quotedata_2022-06-10.csv")


def load_spx_chain(path):
    spot = float(re.search(r"Last:\s*([0-9.]+)", path.read_text(encoding="utf-8").splitlines()[1]).group(1))
    frame = pd.read_csv(path, skiprows=3)
    expiry_dates = pd.to_datetime(frame["Expiration Date"], format="%a %b %d %Y").dt.date
    quotes, cboe_iv = [], {}
    for record, expiry_date in zip(frame.to_dict("records"), expiry_dates):
        root = re.match(r"[A-Z]+", record["Calls"]).group(0)
        expiry = datetime.combine(expiry_date, time(9, 30) if root == "SPX" else time(16, 0), EASTERN)
        strike = float(record["Strike"])
        for option_type, suffix in ((OptionType.CALL, ""), (OptionType.PUT, ".1")):
            quotes.append(OptionQuote(expiry, strike, option_type, float(record["Bid" + suffix]),
                                      float(record["Ask" + suffix]), float(record["Last Sale" + suffix]),
                                      float(record["Volume" + suffix])))
            cboe_iv[(expiry, strike, option_type)] = float(record["IV" + suffix])
    return OptionChainSnapshot(VALUATION, spot, tuple(quotes)), cboe_iv


@pytest.fixture(scope="module")
def spx(shared_data):
    path = shared_data.joinpath(*FILE)
    if not path.exists():
        pytest.skip(f"{path} not found")
    snapshot, cboe_iv = load_spx_chain(path)
    return snapshot, cboe_iv, VolSurfaceBuilder().build(snapshot)


def two_sided_otm(build):
    for qv in build.quotes:
        if qv.out_of_the_money and qv.quote.is_two_sided and np.isfinite(qv.iv_bid) and np.isfinite(qv.iv_ask):
            fit = build.svi_for(qv.quote.expiry)
            if fit is not None:
                yield qv, fit


def test_expiries_forwards_and_settlement_times(spx):
    snapshot, _, build = spx
    assert len(snapshot.quotes) == 2 * 9835
    # the same-day expiry is over at the valuation time; AM and PM settlements are distinct expiries
    assert all(f.t > 0 for f in build.forwards) and len(build.forwards) == 48
    june17 = [f for f in build.forwards if f.expiry.date() == date(2022, 6, 17)]
    assert sorted(f.expiry.hour for f in june17) == [9, 16]
    assert all(f.source.startswith("parity") for f in build.forwards)
    # forwards near the index, rising with the carry; discount factors of plausible rates
    for f in build.forwards:
        assert abs(f.forward / snapshot.underlying_price - 1.0) < 0.12
        assert -0.05 <= f.rate <= 0.25
    long_dated = [f for f in build.forwards if f.t > 0.5]
    assert all(b.forward > a.forward for a, b in zip(long_dated, long_dated[1:]))


def test_mid_implied_vols_match_cboe(spx):
    _, cboe_iv, build = spx
    errors = [abs(qv.iv_mid - cboe_iv[(qv.quote.expiry, qv.quote.strike, qv.quote.option_type)])
              for qv in build.quotes
              if qv.out_of_the_money and abs(qv.log_moneyness) <= 0.10 and np.isfinite(qv.iv_mid)
              and cboe_iv[(qv.quote.expiry, qv.quote.strike, qv.quote.option_type)] > 0]
    assert len(errors) > 4000
    assert np.median(errors) <= 0.001
    assert np.percentile(errors, 90) <= 0.003


def test_surface_reproduces_the_market_mids(spx):
    _, _, build = spx
    used = [qv for qv in build.quotes if qv.out_of_the_money and np.isfinite(qv.iv_mid)]
    vols = build.surface.vol(np.array([qv.log_moneyness for qv in used]), np.array([qv.t for qv in used]))
    assert np.allclose(vols, [qv.iv_mid for qv in used], rtol=0, atol=1e-12)
    term = build.surface.atm_term_structure()
    assert np.all((term.vols > 0.15) & (term.vols < 0.4))


def test_svi_fits_stay_mostly_inside_the_bid_ask_band(spx):
    """Regression floor for what raw SVI achieves on this chain (73 % in the fit windows, see docs/analytics.md)."""
    _, _, build = spx
    inside = [qv.iv_bid <= float(fit.implied_vol(qv.log_moneyness)) <= qv.iv_ask
              for qv, fit in two_sided_otm(build) if fit.k_min <= qv.log_moneyness <= fit.k_max]
    assert len(inside) > 7000
    assert np.mean(inside) >= 0.70
    # long-dated smiles are smooth enough for five parameters: every quote inside
    for fit in build.svi:
        if fit.t > 2.0:
            assert fit.inside_bid_ask == fit.banded_quotes


@pytest.mark.xfail(strict=True, reason="raw SVI cannot follow short-dated SPX smiles to within their 0.2-0.5 "
                                        "vol-point bid/ask bands: 73-76 % inside, not 95 % (docs/analytics.md)")
def test_svi_inside_bid_ask_for_95_percent_of_two_sided_quotes(spx):
    _, _, build = spx
    inside = [qv.iv_bid <= float(fit.implied_vol(qv.log_moneyness)) <= qv.iv_ask for qv, fit in two_sided_otm(build)]
    assert np.mean(inside) >= 0.95


def test_arbitrage_report(spx):
    _, _, build = spx
    report = build.arbitrage
    assert report.expiries_checked == len(build.svi) == 48
    # within the fitted ranges the slices are butterfly-free; calendar crossings between neighbouring
    # expiries (often hours apart: AM vs PM settlement) are reported, not hidden
    assert not report.butterfly
    for violation in report.calendar:
        assert violation.near_expiry < violation.far_expiry
        assert violation.near_total_variance > violation.far_total_variance
    assert report.summary().startswith("48 expiries checked")
