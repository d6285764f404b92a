"""The synthetic CFFEX market: structure, price consistency, determinism, and the round trip through SQLite."""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, time

import numpy as np
import pytest
from vnpy.trader.constant import Exchange, Interval, OptionType, Product

from src.datafeed.sample_market import (
    DEFAULT_END,
    DEFAULT_START,
    SampleMarketError,
    ensure_sample_market,
    generate_sample_market,
    has_sample_products,
    save_sample_market,
)
from src.core.database_factory import create_database
from src.core.config.env_settings import DatabaseSettings
from src.core.config.errors import UserInputError
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from src.core.contract.contract_helper import ContractHelper

# Three trading days around IF2601/IM2601's expiry on Friday 2026-01-16.
SHORT_START, SHORT_END = date(2026, 1, 15), date(2026, 1, 19)
SESSION_MINUTES = {time(h, m) for h in range(24) for m in range(60)
                   if time(9, 30) <= time(h, m) <= time(11, 29) or time(13, 0) <= time(h, m) <= time(14, 59)}
helper = ContractHelper(reference_year=2026)


@pytest.fixture(scope="module")
def short_market():
    return generate_sample_market(SHORT_START, SHORT_END, seed=7)


@pytest.fixture(scope="module")
def full_market():
    return generate_sample_market()


@pytest.fixture
def database(tmp_path):
    return create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(tmp_path / "x.db")}))


def daily_closes(market, vt_symbol):
    closes = {}
    for bar in market.bars[vt_symbol]:
        closes[bar.datetime.date()] = bar.close_price
    return closes


def daily_volumes(market, vt_symbol):
    volumes = defaultdict(float)
    for bar in market.bars[vt_symbol]:
        volumes[bar.datetime.date()] += bar.volume
    return volumes


def test_bars_lie_in_cffex_sessions_of_trading_days(short_market):
    calendar = load_cn_calendar()
    assert short_market.trading_days == (date(2026, 1, 15), date(2026, 1, 16), date(2026, 1, 19))
    for vt_symbol, bars in short_market.bars.items():
        for bar in bars:
            assert bar.datetime.tzinfo is not None and bar.datetime.utcoffset().total_seconds() == 8 * 3600
            assert bar.datetime.time() in SESSION_MINUTES, (vt_symbol, bar.datetime)
            assert calendar.is_trading_day(bar.datetime.date())
            assert bar.interval is Interval.MINUTE and bar.exchange is Exchange.CFFEX
        times = [bar.datetime for bar in bars]
        assert times == sorted(set(times))


def test_front_futures_have_every_session_minute(short_market):
    for vt_symbol in ("IF2602.CFFEX", "IM2602.CFFEX"):
        assert len(short_market.bars[vt_symbol]) == 3 * 240


def test_ohlc_volume_and_ticks_are_consistent(short_market):
    for bars in short_market.bars.values():
        for bar in bars:
            assert 0 < bar.low_price <= min(bar.open_price, bar.close_price)
            assert bar.high_price >= max(bar.open_price, bar.close_price)
            assert bar.volume > 0 and bar.open_interest >= 0 and bar.turnover > 0
            for price in (bar.open_price, bar.high_price, bar.low_price, bar.close_price):
                assert abs(price / 0.2 - round(price / 0.2)) < 1e-6


def test_levels_basis_and_strike_spacing_are_realistic(short_market):
    first_if = short_market.bars["IF2602.CFFEX"][0]
    first_im = short_market.bars["IM2602.CFFEX"][0]
    assert 4000 < first_if.close_price < 5200 and 6500 < first_im.close_price < 8500
    # deferred months trade at a small discount (the index futures' basis)
    for near, far, limit in (("IF2602", "IF2603", 40), ("IM2602", "IM2603", 150)):
        near_close = daily_closes(short_market, f"{near}.CFFEX")
        far_close = daily_closes(short_market, f"{far}.CFFEX")
        for day in near_close:
            assert 0 < near_close[day] - far_close[day] < limit
    strikes = sorted({helper.parse_option(vt.split(".")[0]).strike for vt in short_market.vt_symbols
                      if vt.startswith("IO2602")})
    near_money = [k for k in strikes if 4000 <= k <= 5000]
    assert set(np.diff(near_money)) == {50.0}


def test_deterministic_for_a_seed():
    first = generate_sample_market(date(2026, 1, 5), date(2026, 1, 5), seed=11)
    second = generate_sample_market(date(2026, 1, 5), date(2026, 1, 5), seed=11)
    other = generate_sample_market(date(2026, 1, 5), date(2026, 1, 5), seed=12)
    assert first.bar_counts() == second.bar_counts()
    for vt_symbol in first.vt_symbols:
        assert [b.__dict__ for b in first.bars[vt_symbol]] == [b.__dict__ for b in second.bars[vt_symbol]]
    assert [b.close_price for b in first.bars["IF2601.CFFEX"]] != [b.close_price for b in other.bars["IF2601.CFFEX"]]


def test_two_expiries_with_ten_strikes_each_side_of_the_money_trade_every_day(short_market):
    for future_product, option_product in (("IF", "IO"), ("IM", "MO")):
        strikes_traded = defaultdict(set)
        for vt_symbol in short_market.vt_symbols:
            if not vt_symbol.startswith(option_product):
                continue
            parsed = helper.parse_option(vt_symbol.split(".")[0])
            for bar in short_market.bars[vt_symbol]:
                strikes_traded[(bar.datetime.date(), parsed.underlying_symbol)].add(parsed.strike)
        for day in short_market.trading_days:
            chains = {underlying: strikes for (d, underlying), strikes in strikes_traded.items() if d == day}
            assert len(chains) == 2, (option_product, day, sorted(chains))
            for underlying, strikes in chains.items():
                close = daily_closes(short_market, f"{underlying}.CFFEX")[day]
                below = [k for k in strikes if k <= close]
                above = [k for k in strikes if k > close]
                assert len(strikes) >= 21 and len(below) >= 10 and len(above) >= 10, (underlying, day)


def test_two_nearest_months_roll_after_expiry(short_market):
    series = {vt.split("-")[0] for vt in short_market.vt_symbols if vt.startswith("IO")}
    assert series == {"IO2601", "IO2602", "IO2603"}
    io2603_days = {bar.datetime.date() for vt in short_market.vt_symbols if vt.startswith("IO2603")
                   for bar in short_market.bars[vt]}
    assert io2603_days == {date(2026, 1, 19)}


def test_no_bars_after_a_contracts_expiry(short_market):
    for vt_symbol in short_market.vt_symbols:
        expiry = short_market.registry.get(vt_symbol).expiry
        assert short_market.bars[vt_symbol][-1].datetime.date() <= expiry
    for vt_symbol in ("IF2601.CFFEX", "IM2601.CFFEX"):
        days = {bar.datetime.date() for bar in short_market.bars[vt_symbol]}
        assert days == {date(2026, 1, 15), date(2026, 1, 16)}
    assert any(vt.startswith("IO2601") for vt in short_market.vt_symbols)


def test_put_call_parity_holds_on_traded_prices_within_the_spread(short_market):
    rate = short_market.risk_free_rate
    errors = []
    for future_product, option_product in (("IF", "IO"), ("IM", "MO")):
        for vt_symbol in short_market.vt_symbols:
            if not vt_symbol.startswith(option_product) or "-C-" not in vt_symbol:
                continue
            call = short_market.registry.get(vt_symbol)
            put_vt = vt_symbol.replace("-C-", "-P-")
            if put_vt not in short_market.registry:
                continue
            future = {b.datetime: b.close_price for b in short_market.bars[call.underlying_vt_symbol]}
            puts = {b.datetime: b.close_price for b in short_market.bars[put_vt]}
            for bar in short_market.bars[vt_symbol]:
                if bar.datetime not in puts or bar.datetime not in future:
                    continue
                forward = future[bar.datetime]
                if abs(forward - call.strike) > 0.03 * forward:
                    continue  # near the money, where both legs have narrow quotes
                end = bar.datetime.timestamp() + 60
                years = (call.expiry_datetime.timestamp() - end) / (365 * 86400)
                if years < 1 / 365:
                    continue  # in the last day quotes of in-the-money options widen to the cap
                parity = math.exp(-rate * max(years, 0)) * (forward - call.strike)
                errors.append(bar.close_price - puts[bar.datetime] - parity)
    errors = np.abs(np.array(errors))
    assert errors.size > 1000
    # each print is within half a spread (at most 10 ticks near the money) of the Black-76 mid
    assert errors.max() <= 2.4
    assert np.median(errors) <= 0.8


def test_liquidity_is_highest_near_the_money(short_market):
    day = date(2026, 1, 19)  # IO2602 is the front expiry, 25 trading days from expiry
    close = daily_closes(short_market, "IF2602.CFFEX")[day]
    counts = defaultdict(int)
    for vt_symbol in short_market.vt_symbols:
        if vt_symbol.startswith("IO2602-"):
            strike = short_market.registry.get(vt_symbol).strike
            counts[strike] += sum(1 for b in short_market.bars[vt_symbol] if b.datetime.date() == day)
    at_money = counts[min(counts, key=lambda k: abs(k - close))]
    assert at_money > 0.75 * 2 * 240  # a call and a put, trading in most minutes
    assert counts[max(counts)] < at_money / 4 and counts[min(counts)] < at_money / 4


def test_contracts_are_vnpy_contract_data_for_every_series(short_market):
    assert set(short_market.contracts) == set(short_market.vt_symbols) == {i.vt_symbol for i in short_market.registry}
    contract = short_market.contracts["MO2602-P-7500.CFFEX"] if "MO2602-P-7500.CFFEX" in short_market.contracts \
        else next(c for vt, c in short_market.contracts.items() if vt.startswith("MO2602-P-"))
    assert contract.product is Product.OPTION and contract.option_type is OptionType.PUT
    assert contract.option_underlying == "IM2602.CFFEX" and contract.option_underlying in short_market.contracts
    assert contract.option_expiry.date() == date(2026, 2, 24)
    assert short_market.contracts["IF2602.CFFEX"].size == 300


def test_the_default_window_rolls_the_dominant_future_and_moves_enough_for_signals(full_market):
    assert (full_market.start, full_market.end) == (DEFAULT_START, DEFAULT_END)
    assert len(full_market.trading_days) >= 20
    assert 300_000 <= full_market.bar_count <= 600_000
    for product in ("IF", "IM"):
        front = daily_volumes(full_market, f"{product}2601.CFFEX")
        second = daily_volumes(full_market, f"{product}2602.CFFEX")
        dominant = [day for day in sorted(front) if front[day] > second[day]]
        assert dominant[0] == date(2026, 1, 5)
        # the front month leads until a few trading days before its expiry on 2026-01-16
        assert date(2026, 1, 12) <= dominant[-1] <= date(2026, 1, 14), dominant
        assert all(day in dominant for day in sorted(front) if day <= dominant[-1])
        first_oi = full_market.bars[f"{product}2601.CFFEX"][0].open_interest
        assert first_oi > full_market.bars[f"{product}2602.CFFEX"][0].open_interest
        closes = list(daily_closes(full_market, f"{product}2602.CFFEX").values())
        assert (max(closes) - min(closes)) / closes[0] > 0.03
    assert set(full_market.futures("IF")) == {f"IF{m}.CFFEX" for m in ("2601", "2602", "2603", "2606", "2609")}


def test_saved_bars_load_back_and_ensure_writes_only_once(database):
    market = generate_sample_market(date(2026, 1, 16), date(2026, 1, 16), seed=3)
    assert not has_sample_products(database, date(2026, 1, 16), date(2026, 1, 16))
    assert save_sample_market(database, market, batch_size=100) == market.bar_count
    overview = {(o.symbol, o.exchange): o.count for o in database.get_bar_overview()}
    assert overview == {(vt.split(".")[0], Exchange.CFFEX): n for vt, n in market.bar_counts().items()}
    start, end = datetime(2026, 1, 16), datetime(2026, 1, 16, 23, 59)
    for vt_symbol in ("IF2601.CFFEX", "IO2601-C-4600.CFFEX", market.vt_symbols[-1]):
        if vt_symbol not in market.bars:
            continue
        symbol = vt_symbol.split(".")[0]
        loaded = database.load_bar_data(symbol, Exchange.CFFEX, Interval.MINUTE, start, end)
        original = market.bars[vt_symbol]
        assert [(b.datetime, b.open_price, b.high_price, b.low_price, b.close_price, b.volume, b.open_interest)
                for b in loaded] == \
               [(b.datetime, b.open_price, b.high_price, b.low_price, b.close_price, b.volume, b.open_interest)
                for b in original]
    assert has_sample_products(database, date(2026, 1, 10), date(2026, 1, 20))
    assert not has_sample_products(database, date(2026, 1, 19), date(2026, 1, 20))
    assert ensure_sample_market(database, date(2026, 1, 16), date(2026, 1, 16)) is False


def test_ensure_creates_the_market_in_an_empty_database(database):
    assert ensure_sample_market(database, date(2026, 1, 19), date(2026, 1, 19), seed=5) is True
    symbols = {o.symbol for o in database.get_bar_overview()}
    assert {"IF2602", "IM2602", "IF2609"} <= symbols
    assert any(symbol.startswith("MO2603-") for symbol in symbols)
    assert ensure_sample_market(database, date(2026, 1, 19), date(2026, 1, 19), seed=5) is False


@pytest.mark.parametrize("start, end, message", [
    (date(2026, 2, 6), date(2026, 1, 5), "is after end date"),
    (date(2026, 2, 16), date(2026, 2, 20), "no trading days"),
    (datetime(2026, 1, 5), date(2026, 1, 6), "start must be a date"),
])
def test_bad_windows_are_user_errors(start, end, message):
    with pytest.raises(SampleMarketError, match=message) as caught:
        generate_sample_market(start, end)
    assert isinstance(caught.value, UserInputError)


def test_unknown_product_and_bad_seed_are_user_errors():
    with pytest.raises(SampleMarketError, match="no model for product 'IC'"):
        generate_sample_market(date(2026, 1, 5), date(2026, 1, 5), products=("IC",))
    with pytest.raises(SampleMarketError, match="seed"):
        generate_sample_market(date(2026, 1, 5), date(2026, 1, 5), seed=-1)
