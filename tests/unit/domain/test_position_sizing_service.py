import pytest

from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService, SizingSettings
from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.option_contract import OptionType

from .builders import at, option

PUT = option(3800.0, OptionType.PUT)
CALL = option(4200.0, OptionType.CALL)


def params(contract, min_volume=1, margin_ratio=0.1):
    return ContractParams(contract.vt_symbol, multiplier=100, pricetick=0.2, margin_ratio=margin_ratio,
                          min_volume=min_volume)


def account(balance=1_000_000.0, available=800_000.0):
    return AccountSnapshot(balance=balance, available=available, frozen=0.0, taken_at=at())


@pytest.mark.parametrize("contract, premium, underlying, expected", [
    # call 4200, S 4000: 20 * 100 + max(40000 - 20000, 0.5 * 4000 * 100 * 0.1 = 20000)
    (CALL, 20.0, 4000.0, 2000.0 + 20000.0),
    # call 4200, S 3900: OTM 30000 > the first term's room, the minimum guarantee 19500 applies
    (CALL, 8.0, 3900.0, 800.0 + 19500.0),
    # put 3800, S 4000: 15 * 100 + max(40000 - 20000, 0.5 * 3800 * 100 * 0.1 = 19000)
    (PUT, 15.0, 4000.0, 1500.0 + 20000.0),
    # put 3800, S 4200: 42000 - 40000 = 2000 < 19000 (the guarantee uses the strike for puts)
    (PUT, 3.0, 4200.0, 300.0 + 19000.0),
    # in the money: no OTM amount to subtract
    (PUT, 250.0, 3600.0, 25000.0 + 36000.0),
])
def test_short_option_margin_follows_the_cffex_rule(contract, premium, underlying, expected):
    margin = PositionSizingService().short_option_margin(contract, premium, underlying, params(contract))
    assert margin == pytest.approx(expected)


def test_lots_are_the_budget_share_of_the_balance_over_the_margin():
    result = PositionSizingService().size(PUT, 15.0, 4000.0, params(PUT), account(), open_positions=0)
    # 0.1 * 1,000,000 / 21,500 = 4.65
    assert result.volume == 4 and result.margin_per_lot == pytest.approx(21500.0)
    assert "4 lot(s)" in result.reason


def test_available_funds_cap_the_lots():
    result = PositionSizingService().size(PUT, 15.0, 4000.0, params(PUT), account(available=50_000.0), 0)
    assert result.volume == 2


def test_lots_are_whole_multiples_of_the_minimum_and_capped_per_order():
    sizing = PositionSizingService(SizingSettings(position_ratio=0.5))
    assert sizing.size(PUT, 15.0, 4000.0, params(PUT, min_volume=2), account(), 0).volume == 22  # 23.26 -> 22
    capped = PositionSizingService(SizingSettings(position_ratio=0.5, max_volume_per_order=5))
    assert capped.size(PUT, 15.0, 4000.0, params(PUT), account(), 0).volume == 5


def test_max_positions_refuses():
    result = PositionSizingService(SizingSettings(max_positions=3)).size(
        PUT, 15.0, 4000.0, params(PUT), account(), open_positions=3)
    assert not result.is_sized and result.margin_per_lot is None
    assert result.reason == f"{PUT.vt_symbol}: 3 positions held or opening, max_positions is 3"


def test_too_little_capital_refuses_with_the_numbers():
    result = PositionSizingService().size(PUT, 15.0, 4000.0, params(PUT), account(balance=150_000.0), 0)
    assert not result.is_sized
    assert result.margin_per_lot == pytest.approx(21500.0)
    assert "margin 21500.00 per lot, budget 15000.00" in result.reason and "fewer than 1 lot(s) fit" in result.reason
    in_margin_call = PositionSizingService().size(PUT, 15.0, 4000.0, params(PUT), account(available=-10.0), 0)
    assert not in_margin_call.is_sized


def test_inputs_and_settings_are_checked():
    with pytest.raises(ValueError, match="ContractParams of .* given for"):
        PositionSizingService().size(PUT, 15.0, 4000.0, params(CALL), account(), 0)
    with pytest.raises(ValueError, match="position_ratio must be in"):
        SizingSettings(position_ratio=1.5)
    with pytest.raises(ValueError, match="max_positions must be >= 1"):
        SizingSettings(max_positions=0)
