"""Symbol translation both ways, date chunks and the call pacer."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vnpy.trader.constant import Exchange

from src.datafeed.cn.download import date_chunks
from src.datafeed.cn.rate_limit import CallPacer
from src.datafeed.cn.symbols import (
    ContractKind,
    UnknownSymbolError,
    from_akshare,
    from_tushare,
    parse_vt_symbol,
    to_akshare,
    to_tushare,
)


@pytest.mark.parametrize("vt_symbol,tushare,akshare,kind", [
    ("IF2602.CFFEX", "IF2602.CFX", "IF2602", ContractKind.FUTURE),
    ("IM2606.CFFEX", "IM2606.CFX", "IM2606", ContractKind.FUTURE),
    ("IF888.CFFEX", "IF.CFX", "IF0", ContractKind.CONTINUOUS),
    ("IO2602-C-4600.CFFEX", "IO2602-C-4600.CFX", "io2602C4600", ContractKind.INDEX_OPTION),
    ("MO2603-P-7200.CFFEX", "MO2603-P-7200.CFX", "mo2603P7200", ContractKind.INDEX_OPTION),
    ("HO2601-C-2750.CFFEX", "HO2601-C-2750.CFX", "ho2601C2750", ContractKind.INDEX_OPTION),
    ("10005000.SSE", "10005000.SH", "10005000", ContractKind.ETF_OPTION),
    ("90000001.SZSE", "90000001.SZ", "90000001", ContractKind.ETF_OPTION),
    ("rb2405.SHFE", "RB2405.SHF", "RB2405", ContractKind.FUTURE),
    ("SR405.CZCE", "SR2405.ZCE", "SR405", ContractKind.FUTURE),
])
def test_both_ways(vt_symbol, tushare, akshare, kind):
    contract = parse_vt_symbol(vt_symbol)
    assert contract.kind is kind
    assert to_tushare(contract, reference_year=2024) == tushare
    assert from_tushare(tushare) == contract
    assert to_akshare(contract) == akshare
    assert from_akshare(akshare, contract.exchange) == contract


@pytest.mark.parametrize("text", ["IF2602", "IF2602.MARS", "IO2602-X-4600.CFFEX", "510050.SSE", ".CFFEX"])
def test_unknown_symbols_are_refused_by_name(text):
    with pytest.raises(UnknownSymbolError, match=text.split(".")[0] or "CFFEX"):
        parse_vt_symbol(text)


@given(product=st.sampled_from(["IO", "MO", "HO"]), year=st.integers(15, 40), month=st.integers(1, 12),
       right=st.sampled_from("CP"), strike=st.integers(1, 400).map(lambda k: k * 25))
def test_option_codes_round_trip(product, year, month, right, strike):
    contract = parse_vt_symbol(f"{product}{year:02d}{month:02d}-{right}-{strike}.CFFEX")
    assert from_tushare(to_tushare(contract)) == contract
    assert from_akshare(to_akshare(contract), Exchange.CFFEX) == contract


@given(year=st.integers(2015, 2034), month=st.integers(1, 12))
def test_czce_decade_is_the_one_nearest_the_request(year, month):
    contract = parse_vt_symbol(f"SR{year % 10}{month:02d}.CZCE")
    assert to_tushare(contract, reference_year=year) == f"SR{year % 100:02d}{month:02d}.ZCE"


@given(start=st.dates(date(2010, 1, 1), date(2030, 1, 1)), length=st.integers(0, 800), days=st.integers(1, 100))
def test_chunks_cover_the_dates_once_in_order(start, length, days):
    end = start + timedelta(days=length)
    chunks = date_chunks(start, end, days)
    assert chunks[0][0] == start and chunks[-1][1] == end
    for (a, b), (c, _d) in zip(chunks, chunks[1:]):
        assert c == b + timedelta(days=1)
    assert all(0 <= (b - a).days < days for a, b in chunks)


def test_pacer_sleeps_only_when_the_window_is_full():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    pacer = CallPacer(3, window_seconds=60, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
        now[0] += 1
    assert slept == []
    pacer.wait()
    assert slept == [57.0]
    pacer.lower_to(2)
    assert pacer.calls == 2
