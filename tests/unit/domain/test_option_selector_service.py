from dataclasses import replace
from datetime import timedelta

import pytest

from src.strategy.domain.domain_service.option_selector_service import OptionSelectorService, OptionSelectorSettings
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.signal_type import SignalType

from .builders import TODAY, option, quote

STRIKES = [3700.0 + 50 * i for i in range(13)]  # 3700 ... 4300
NEAR, FRONT, NEXT, FAR = (TODAY + timedelta(days=days) for days in (5, 25, 53, 88))


def chain(expiries=(NEAR, FRONT, NEXT, FAR), **quote_fields):
    return [quote(option(strike, kind, expiry=expiry), **quote_fields)
            for expiry in expiries for kind in OptionType for strike in STRIKES]


def select(quotes, signal, underlying=4010.0, **settings):
    return OptionSelectorService(OptionSelectorSettings(**settings)).select_option(quotes, signal, underlying, TODAY)


@pytest.mark.parametrize("signal, level, strike", [
    (SignalType.SELL_PUT, 1, 4000.0), (SignalType.SELL_PUT, 4, 3850.0),
    (SignalType.SELL_CALL, 1, 4050.0), (SignalType.SELL_CALL, 4, 4200.0),
])
def test_the_strike_level_th_out_of_the_money_strike_of_the_nearest_expiry_in_the_window(signal, level, strike):
    result = select(chain(), signal, strike_level=level)
    assert result.is_selected
    assert result.contract.option_type is signal.option_type
    assert result.contract.strike == strike
    assert result.contract.expiry == FRONT  # NEAR has 5 days, under min_days_to_expiry=7
    assert result.quote.contract == result.contract
    assert f"level {level}" in result.reason


def test_the_at_the_money_strike_is_not_out_of_the_money():
    assert select(chain(), SignalType.SELL_PUT, underlying=4000.0, strike_level=1).contract.strike == 3950.0
    assert select(chain(), SignalType.SELL_CALL, underlying=4000.0, strike_level=1).contract.strike == 4050.0


def test_the_expiry_window_moves_the_choice_and_refuses_when_empty():
    assert select(chain(), SignalType.SELL_PUT, min_days_to_expiry=30).contract.expiry == NEXT
    assert select(chain(), SignalType.SELL_PUT, min_days_to_expiry=0).contract.expiry == NEAR
    result = select(chain(), SignalType.SELL_PUT, min_days_to_expiry=60, max_days_to_expiry=80)
    assert not result.is_selected
    assert result.reason == "SELL_PUT: no put expiry with 60-80 days left (days left in the chain: [5, 25, 53, 88])"


def test_too_few_out_of_the_money_strikes_is_refused():
    result = select(chain(), SignalType.SELL_CALL, underlying=4160.0, strike_level=4)
    assert not result.is_selected and result.contract is None
    assert "only 3 out-of-the-money call strikes" in result.reason and "strike_level is 4" in result.reason


def test_an_empty_side_of_the_chain_is_refused():
    puts_only = [q for q in chain() if q.contract.option_type is OptionType.PUT]
    assert select(puts_only, SignalType.SELL_CALL).reason == "SELL_CALL: no call options in the chain"
    assert select([], SignalType.SELL_PUT).reason == "SELL_PUT: no put options in the chain"


@pytest.mark.parametrize("fields, settings, reason", [
    (dict(last=0.0), {}, "has no price"),
    (dict(volume=3), dict(min_volume=10), "volume 3 is below min_volume 10"),
    (dict(open_interest=20), dict(min_open_interest=50), "open interest 20 is below min_open_interest 50"),
    (dict(last=20.0, bid=15.0, ask=25.0), dict(max_spread_ratio=0.2), "spread 50.0% is above max_spread_ratio 20.0%"),
    (dict(last=20.0, bid=None, ask=25.0), {}, "one-sided market"),
])
def test_an_illiquid_choice_is_refused_with_the_reason_not_replaced(fields, settings, reason):
    quotes = chain(expiries=(FRONT,))
    target = option(3850.0, OptionType.PUT, expiry=FRONT)
    quotes = [quote(target, **fields) if q.contract == target else q for q in quotes]
    result = select(quotes, SignalType.SELL_PUT, strike_level=4, **settings)
    assert not result.is_selected
    assert result.reason.startswith(f"SELL_PUT: {target.vt_symbol} (strike 3850.0) ")
    assert reason in result.reason


def test_the_spread_is_checked_only_when_bid_and_ask_are_known():
    # Bars only: no bid or ask, so the spread rule cannot refuse.
    assert select(chain(), SignalType.SELL_PUT, max_spread_ratio=0.01).is_selected
    assert select(chain(bid=19.8, ask=20.2), SignalType.SELL_PUT, max_spread_ratio=0.05).is_selected
    assert not select(chain(bid=19.0, ask=21.0), SignalType.SELL_PUT, max_spread_ratio=0.05).is_selected
    assert select(chain(bid=19.0, ask=21.0), SignalType.SELL_PUT, max_spread_ratio=None).is_selected


def test_two_contracts_at_one_strike_count_once_and_the_busier_is_taken():
    quotes = chain(expiries=(FRONT,))
    twin = replace(option(4000.0, OptionType.PUT, expiry=FRONT),
                   symbol="IO2501-P-4000A", vt_symbol="IO2501-P-4000A.CFFEX")
    quotes.append(quote(twin, volume=1000))
    first = select(quotes, SignalType.SELL_PUT, strike_level=1)
    assert first.contract.vt_symbol == "IO2501-P-4000A.CFFEX"
    assert select(quotes, SignalType.SELL_PUT, strike_level=2).contract.strike == 3950.0


def test_settings_are_validated():
    with pytest.raises(ValueError, match="min_days_to_expiry 30 is above max_days_to_expiry 10"):
        OptionSelectorSettings(min_days_to_expiry=30, max_days_to_expiry=10)
    with pytest.raises(ValueError, match="strike_level must be >= 1"):
        OptionSelectorSettings(strike_level=0)
    with pytest.raises(ValueError, match="underlying_price must be > 0"):
        select(chain(), SignalType.SELL_PUT, underlying=0.0)


def test_a_signal_given_as_its_string_is_accepted():
    assert select(chain(), "SELL_PUT").contract.option_type is OptionType.PUT
