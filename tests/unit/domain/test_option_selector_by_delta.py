"""``strike_selection="delta"``: the liquid option whose |delta| is in the band, nearest its middle."""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings, strategies as st

from src.strategy.domain.domain_service.option_selector_service import OptionSelectorService, OptionSelectorSettings
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.signal_type import SignalType

from .builders import TODAY, option, quote

FRONT = TODAY + timedelta(days=25)
STRIKES = [3700.0 + 50 * i for i in range(13)]  # 3700 ... 4300


def puts(**quote_fields):
    return [quote(option(strike, OptionType.PUT, expiry=FRONT), **quote_fields) for strike in STRIKES]


def put_deltas(quotes, values):
    return {q.vt_symbol: -value for q, value in zip(quotes, values)}


def select(quotes, deltas, signal=SignalType.SELL_PUT, **settings):
    service = OptionSelectorService(OptionSelectorSettings(strike_selection="delta", **settings))
    return service.select_option(quotes, signal, 4010.0, TODAY, deltas)


# |delta| by strike 3700 ... 4300 (puts: larger the nearer the money)
SIZES = [0.03, 0.05, 0.08, 0.12, 0.16, 0.19, 0.245, 0.30, 0.38, 0.47, 0.56, 0.65, 0.74]


def test_the_option_nearest_the_middle_of_the_band_is_chosen():
    quotes = puts()
    result = select(quotes, put_deltas(quotes, SIZES))
    assert result.is_selected and result.contract.strike == 3950.0  # |delta| 0.19, middle 0.20
    assert "|delta| 0.190 in |delta| 0.15-0.25" in result.reason
    narrow = select(quotes, put_deltas(quotes, SIZES), target_delta_min=0.22, target_delta_max=0.35)
    assert narrow.contract.strike == 4050.0  # 0.30 is nearer 0.285 than 0.245


def test_calls_use_the_absolute_delta_too():
    calls = [quote(option(strike, OptionType.CALL, expiry=FRONT)) for strike in STRIKES]
    deltas = {q.vt_symbol: size for q, size in zip(calls, reversed(SIZES))}
    result = select(calls, deltas, signal=SignalType.SELL_CALL)
    assert result.contract.option_type is OptionType.CALL and result.contract.strike == 4050.0


def test_none_in_the_band_is_refused_with_the_deltas_seen():
    quotes = puts()
    sizes = [0.03, 0.05, 0.08, 0.12, 0.13, 0.14, 0.27, 0.30, 0.38, 0.47, 0.56, 0.65, 0.74]
    result = select(quotes, put_deltas(quotes, sizes))
    assert not result.is_selected and result.contract is None
    assert result.reason.startswith(f"SELL_PUT: no liquid put expiring {FRONT.isoformat()} with |delta| 0.15-0.25")
    assert "0.140, 0.270" in result.reason


def test_no_deltas_given_and_options_without_a_delta():
    quotes = puts()
    assert "no deltas were given" in select(quotes, None).reason
    deltas = put_deltas(quotes, SIZES)
    del deltas[quotes[5].vt_symbol]  # the 0.19 one: 0.16 is then nearer the middle than 0.245
    assert select(quotes, deltas).contract.strike == 3900.0


def test_the_liquidity_filter_still_applies():
    quotes = puts()
    quotes[5] = quote(quotes[5].contract, volume=1)  # the 0.19 one is too thin
    result = select(quotes, put_deltas(quotes, SIZES))
    assert result.contract.strike == 3900.0  # 0.16 is then nearer the middle than 0.245
    quotes = [quote(q.contract, open_interest=5) for q in quotes]
    refused = select(quotes, put_deltas(quotes, SIZES))
    assert not refused.is_selected and "passes the liquidity filter" in refused.reason
    wide = [quote(q.contract, bid=10.0, ask=14.0) for q in puts()]
    assert "passes the liquidity filter" in select(wide, put_deltas(wide, SIZES)).reason


def test_strike_level_stays_the_default_and_ignores_deltas():
    quotes = puts()
    service = OptionSelectorService()
    assert service.settings.strike_selection == "strike_level" and not service.by_delta
    result = service.select_option(quotes, SignalType.SELL_PUT, 4010.0, TODAY, put_deltas(quotes, SIZES))
    assert result.contract.strike == 3850.0  # the 4th OTM put, as without deltas


@pytest.mark.parametrize("fields, message", [
    ({"strike_selection": "gamma"}, "strike_selection 'gamma'"),
    ({"target_delta_min": 0.0}, "target_delta_min must be a number in (0, 1)"),
    ({"target_delta_max": 1.0}, "target_delta_max must be a number in (0, 1)"),
    ({"target_delta_min": 0.3, "target_delta_max": 0.2}, "target_delta_min 0.3 is above target_delta_max 0.2"),
])
def test_settings_are_validated(fields, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OptionSelectorSettings(**fields)


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.one_of(st.none(), st.floats(0.0, 1.0)), min_size=len(STRIKES), max_size=len(STRIKES)),
       volumes=st.lists(st.sampled_from([0, 5, 10, 100]), min_size=len(STRIKES), max_size=len(STRIKES)),
       low=st.floats(0.01, 0.5), width=st.floats(0.0, 0.45))
def test_the_chosen_delta_is_always_inside_the_band_and_liquid(sizes, volumes, low, width):
    high = min(low + width, 0.99)
    quotes = [quote(option(strike, OptionType.PUT, expiry=FRONT), volume=volume)
              for strike, volume in zip(STRIKES, volumes)]
    deltas = {q.vt_symbol: -size for q, size in zip(quotes, sizes) if size is not None}
    result = select(quotes, deltas, target_delta_min=low, target_delta_max=high)
    eligible = [abs(deltas[q.vt_symbol]) for q in quotes
                if q.vt_symbol in deltas and q.volume >= 10 and low <= abs(deltas[q.vt_symbol]) <= high]
    assert result.is_selected == bool(eligible), result.reason
    if result.is_selected:
        size = abs(deltas[result.contract.vt_symbol])
        assert low <= size <= high and result.quote.volume >= 10
        middle = (low + high) / 2
        assert abs(size - middle) == min(abs(value - middle) for value in eligible)
