from datetime import date, timedelta

import pytest

from src.strategy.domain.aggregate.instrument_manager import InstrumentManager
from src.strategy.domain.event.instrument_events import ActiveContractChangedEvent
from src.strategy.domain.value_object.option_contract import OptionType

from .builders import FUTURE, at, bar, bars, option, quote

NEXT = "IF2502.CFFEX"


def manager(bar_history: int = 200) -> InstrumentManager:
    result = InstrumentManager(["IF", "IM"], bar_history=bar_history)
    result.set_active_contract("IF", FUTURE, at())
    result.pop_events()
    return result


def test_setting_the_active_contract_records_the_change_once():
    instruments = InstrumentManager(["IF"])
    assert instruments.set_active_contract("IF", FUTURE, at())
    assert not instruments.set_active_contract("IF", FUTURE, at(minute=1))
    assert instruments.set_active_contract("IF", NEXT, at(minute=2))
    assert instruments.pop_events() == [
        ActiveContractChangedEvent(occurred_at=at(), product="IF", previous_vt_symbol=None, vt_symbol=FUTURE),
        ActiveContractChangedEvent(occurred_at=at(minute=2), product="IF", previous_vt_symbol=FUTURE, vt_symbol=NEXT),
    ]
    assert instruments.pop_events() == []
    assert instruments.active_contracts() == {"IF": NEXT}


def test_bars_go_to_the_product_of_their_active_contract():
    instruments = manager()
    first, second = bars([4000.0, 4001.0])
    assert instruments.update_bar(first) is instruments.get("IF")
    assert instruments.update_bar(bar(4000.0, at(), vt_symbol="IM2501.CFFEX")) is None
    assert instruments.update_bar(second).latest_bar == second
    assert instruments.product_of(FUTURE) == "IF" and instruments.product_of("IM2501.CFFEX") is None


def test_a_bar_not_later_than_the_last_is_not_stored():
    instruments = manager()
    first, second = bars([4000.0, 4001.0])
    instruments.update_bar(second)
    assert instruments.update_bar(first) is None
    assert instruments.update_bar(second) is None
    assert list(instruments.get("IF").bars) == [second]


def test_bar_history_is_bounded():
    instruments = manager(bar_history=3)
    for item in bars([4001.0 + i for i in range(5)]):
        instruments.update_bar(item)
    assert [b.close for b in instruments.get("IF").bars] == [4003.0, 4004.0, 4005.0]


def test_rollover_drops_the_old_contracts_history_unless_asked_to_keep_it():
    instruments = manager()
    for item in bars([4000.0, 4001.0]):
        instruments.update_bar(item)
    instruments.get("IF").indicators["macd"] = 1.0
    instruments.set_active_contract("IF", NEXT, at(hour=14, minute=50))
    assert len(instruments.get("IF").bars) == 0 and instruments.get("IF").indicators == {}
    instruments.update_bar(bar(4010.0, at(hour=15), vt_symbol=NEXT))
    instruments.set_active_contract("IF", FUTURE, at(hour=15, minute=1), keep_history=True)
    assert len(instruments.get("IF").bars) == 1


def test_option_quotes_go_to_the_future_product_their_options_are_on():
    instruments = manager()
    io_put, mo_call = quote(option(3800)), quote(option(6000, OptionType.CALL, product="MO", underlying="IM2501.CFFEX"))
    assert instruments.update_option_quote(io_put) is instruments.get("IF")
    assert instruments.update_option_quote(mo_call) is instruments.get("IM")
    assert instruments.update_option_quote(quote(option(3.0, product="HO"))) is None
    newer = quote(option(3800), last=25.0)
    instruments.update_option_quote(newer)
    assert instruments.chain("IF") == [newer]
    assert instruments.chain("IM") == [mo_call]


def test_expired_options_are_pruned():
    instruments = manager()
    expiring = option(3800, expiry=date(2024, 12, 20))
    instruments.update_option_quote(quote(expiring))
    instruments.update_option_quote(quote(option(3800)))
    assert instruments.prune_expired_options(date(2024, 12, 20)) == []
    assert instruments.prune_expired_options(date(2024, 12, 20) + timedelta(days=1)) == [expiring.vt_symbol]
    assert len(instruments.chain("IF")) == 1


def test_unknown_product_is_a_key_error_naming_the_known_ones():
    with pytest.raises(KeyError, match="unknown product 'IH'"):
        manager().get("IH")


def test_a_bar_of_another_contract_cannot_enter_an_instrument():
    instrument = manager().get("IF")
    with pytest.raises(ValueError, match="active contract is IF2501.CFFEX"):
        instrument.append_bar(bar(4000.0, at(), vt_symbol=NEXT))
