"""Quotes reach the selector: the day's volume, the latest touch from ticks, marks at the mid."""
from __future__ import annotations

from src.strategy.domain.domain_service.option_quote_builder import OptionQuoteBuilder
from src.strategy.domain.domain_service.option_selector_service import OptionSelectorService, OptionSelectorSettings
from src.strategy.domain.value_object.market_input import BarPrint, TopOfBook
from src.strategy.domain.value_object.signal_type import SignalType

from .builders import TODAY, option

PUT = option(3850.0)


def touch(bid, ask, last=20.0, bid_size=5.0, ask_size=7.0, volume=None, interest=None):
    return TopOfBook(PUT.vt_symbol, bid, ask, last, None, None, bid_size, ask_size, volume, interest)


def test_bars_add_up_the_days_volume_and_a_new_day_starts_again():
    builder = OptionQuoteBuilder()
    assert builder.from_bar(PUT, BarPrint(20.0, 4, 800)).volume == 4
    quote = builder.from_bar(PUT, BarPrint(21.0, 6, 810))
    assert (quote.volume, quote.last_price, quote.open_interest, quote.bid, quote.ask) == (10, 21.0, 810, None, None)
    assert quote.mark_price == 21.0  # one-sided knowledge: the last print
    builder.new_day()
    assert builder.from_bar(PUT, BarPrint(21.2, 3, 812)).volume == 3


def test_a_ticks_touch_reaches_the_quote_and_the_bar_keeps_it():
    builder = OptionQuoteBuilder()
    assert builder.from_touch(PUT, touch(0.0, 0.0, last=0.0)) is None  # no price yet
    quote = builder.from_touch(PUT, touch(19.8, 20.4, volume=35, interest=900))
    assert (quote.bid, quote.ask, quote.bid_size, quote.ask_size) == (19.8, 20.4, 5.0, 7.0)
    assert quote.mark_price == 20.1 and quote.volume == 35 and quote.open_interest == 900
    on_bar = builder.from_bar(PUT, BarPrint(20.4, 2, 901))
    assert (on_bar.bid, on_bar.ask, on_bar.mark_price) == (19.8, 20.4, 20.1)
    one_sided = builder.from_touch(PUT, touch(0.0, 20.4))
    assert one_sided.bid is None and one_sided.bid_size is None and one_sided.mark_price == 20.0


def test_the_selector_refuses_one_sided_wide_thin_and_unheld_options_by_default():
    settings = OptionSelectorSettings(strike_level=1)
    assert (settings.min_volume, settings.min_open_interest, settings.max_spread_ratio) == (10.0, 100.0, 0.1)
    service = OptionSelectorService(settings)
    builder = OptionQuoteBuilder()

    def choose(quote):
        return service.select_option([quote], SignalType.SELL_PUT, 3900.0, TODAY)

    builder.from_bar(PUT, BarPrint(20.0, 12, 500))
    assert choose(builder.from_touch(PUT, touch(19.8, 20.2))).is_selected
    assert "one-sided" in choose(builder.from_touch(PUT, touch(0.0, 20.2))).reason
    assert "spread" in choose(builder.from_touch(PUT, touch(18.0, 22.0))).reason
    builder.new_day()
    assert "below min_volume" in choose(builder.from_bar(PUT, BarPrint(20.0, 3, 500))).reason
    assert "below min_open_interest" in choose(builder.from_bar(PUT, BarPrint(20.0, 30, 40))).reason
