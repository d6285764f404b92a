"""scripts/report_vol_surface.py reads the download time of every Cboe header form seen so far."""
from __future__ import annotations

import importlib.util
import warnings
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("pandas")

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "report_vol_surface.py"
_spec = importlib.util.spec_from_file_location("report_vol_surface", SCRIPT)
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)


@pytest.mark.parametrize("header, expected", [
    # SPX 2022-06-10, downloaded Saturday evening: the session is Friday's
    ('"Date: June 11, 2022, 8:47 PM EDT",Bid: 3878.48,Ask: 3927.9299,Size: 1*1,Volume: 0', date(2022, 6, 10)),
    # NDX/SPX 2022-02-04: no comma after the day
    ('"Date: February 5 2022, 8:26 PM EST",Bid: 0,Ask: 0,Size: 0*0,Volume: 0', date(2022, 2, 4)),
    # the newer form, with "at": a Sunday morning download is Friday's session
    ('"Date: January 7, 2024 at 10:52 AM EST",Bid: 1,Ask: 2', date(2024, 1, 5)),
    # SPY, after the close on a weekday: that day's session
    ('"Date: May 8, 2025 at 4:57 PM EDT",Bid: 565.77,Ask: 565.82,Size: 7*2,"Volume: 55,613,504"',
     date(2025, 5, 8)),
    # before the close on a Tuesday: Monday's session
    ('"Date: May 6, 2025 at 9:14 AM EDT",Bid: 1,Ask: 2', date(2025, 5, 5)),
])
def test_session_date_reads_both_header_forms(header, expected):
    assert report.session_date(header) == expected


def test_a_header_without_a_download_time_names_the_line():
    with pytest.raises(ValueError, match="no download time.*--trade-date"):
        report.session_date("Date: sometime last week")


def test_spy_chain_loads_with_the_at_form(shared_data):
    path = shared_data / "cboe_spy_option_chains" / "spy_quotedata_2025-05-08.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    snapshot, cboe_iv = report.load_chain(path)
    assert snapshot.valuation_time == datetime(2025, 5, 8, 16, 0, tzinfo=ZoneInfo("America/New_York"))
    assert snapshot.underlying_price == 565.79
    assert len(snapshot.quotes) == len(cboe_iv) > 1000
    # parity is biased by early exercise on this American chain: without a rate the builder says so ...
    from src.strategy.domain.domain_service.vol_surface_builder import RateFallbackWarning, VolSurfaceBuilder
    builder = VolSurfaceBuilder(fit_svi=False)
    with pytest.warns(RateFallbackWarning, match="snapshot.rate = 0"):
        builder.build(snapshot)
    # ... and with one it does not
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build = builder.build(snapshot, rate=0.043)
    assert {estimate.discount < 1.0 for estimate in build.forwards} == {True}
    assert time(16, 0) == snapshot.valuation_time.time()
