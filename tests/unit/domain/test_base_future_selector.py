from datetime import date, datetime, timedelta, timezone

import pytest

from src.strategy.domain.domain_service.base_future_selector import BaseFutureSelector, FutureSelectorSettings
from src.strategy.domain.value_object.future_quote import FutureQuote

from .builders import at

TODAY = date(2025, 1, 10)


def future(month: int, volume: float, open_interest: float = 1000.0, product: str = "IF",
           expiry: date | None = None) -> FutureQuote:
    expiry = expiry or date(2025, month, 17)
    return FutureQuote(f"{product}25{month:02d}.CFFEX", product, expiry, volume, open_interest)


def test_the_dominant_contract_has_the_most_volume_then_open_interest():
    selector = BaseFutureSelector()
    candidates = [future(1, 500), future(2, 900), future(3, 100)]
    assert selector.select_dominant(candidates, TODAY).vt_symbol == "IF2502.CFFEX"
    tied = [future(2, 900, open_interest=100), future(3, 900, open_interest=200)]
    assert selector.select_dominant(tied, TODAY).vt_symbol == "IF2503.CFFEX"


def test_contracts_expiring_soon_are_skipped():
    candidates = [future(1, 5000), future(2, 900)]
    selector = BaseFutureSelector()  # skips contracts with 5 days or fewer left
    assert selector.select_dominant(candidates, date(2025, 1, 11)).vt_symbol == "IF2501.CFFEX"  # 6 days left
    assert selector.select_dominant(candidates, date(2025, 1, 12)).vt_symbol == "IF2502.CFFEX"  # 5 days left
    selector = BaseFutureSelector(FutureSelectorSettings(min_days_to_expiry=7))
    assert selector.select_dominant(candidates, TODAY).vt_symbol == "IF2502.CFFEX"  # 7 days left: skipped
    assert selector.select_dominant([future(1, 5000)], TODAY) is None


def test_candidates_of_several_products_are_refused():
    with pytest.raises(ValueError, match="several products"):
        BaseFutureSelector().select_dominant([future(1, 1), future(1, 1, product="IM")], TODAY)


def test_rollover_is_checked_once_a_day_at_or_after_1450():
    selector = BaseFutureSelector()
    assert not selector.should_check_rollover(at(hour=14, minute=49))
    assert selector.should_check_rollover(at(hour=14, minute=50))
    assert not selector.should_check_rollover(at(hour=14, minute=55))
    assert not selector.should_check_rollover(at(day=24, hour=10))
    assert selector.should_check_rollover(at(day=24, hour=15, minute=0))  # started late: still once that day
    # 06:50 UTC is 14:50 in Shanghai
    assert selector.should_check_rollover(datetime(2024, 12, 25, 6, 50, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="timezone-aware"):
        selector.should_check_rollover(datetime(2024, 12, 26, 14, 50))


def test_rollover_moves_forward_to_the_new_dominant_contract():
    selector = BaseFutureSelector()
    current, later = future(1, 500), future(2, 900)
    assert selector.check_rollover(None, [current, later], TODAY) == "IF2502.CFFEX"
    assert selector.check_rollover("IF2502.CFFEX", [current, later], TODAY) is None
    assert selector.check_rollover("IF2501.CFFEX", [current, later], TODAY) == "IF2502.CFFEX"


def test_rollover_never_moves_back_to_an_earlier_contract_while_the_current_is_eligible():
    selector = BaseFutureSelector()
    candidates = [future(1, 900), future(2, 500)]
    assert selector.check_rollover("IF2502.CFFEX", candidates, TODAY) is None


def test_rollover_leaves_a_contract_near_expiry_or_no_longer_listed():
    selector = BaseFutureSelector()
    expiring = future(1, 5000, expiry=TODAY + timedelta(days=3))
    assert selector.check_rollover("IF2501.CFFEX", [expiring, future(2, 10)], TODAY) == "IF2502.CFFEX"
    assert selector.check_rollover("IF2412.CFFEX", [future(2, 10), future(3, 5)], TODAY) == "IF2502.CFFEX"
    assert selector.check_rollover("IF2501.CFFEX", [expiring], TODAY) is None  # nowhere to go
