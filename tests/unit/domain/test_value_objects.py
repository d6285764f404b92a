from dataclasses import FrozenInstanceError
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.future_quote import FutureQuote
from src.strategy.domain.value_object.market import BarSnapshot, Direction, Offset
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType
from src.strategy.domain.value_object.order_instruction import OrderInstruction, align_price
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.position_snapshot import PositionSnapshot
from src.strategy.domain.value_object.selection_result import SelectionResult
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType
from src.strategy.domain.value_object.sizing_result import SizingResult

from .builders import FUTURE, at, option, quote


def make_bar(**changes):
    values = dict(vt_symbol=FUTURE, datetime=at(), open=4000.0, high=4010.0, low=3990.0, close=4005.0, volume=10)
    values.update(changes)
    return BarSnapshot(**values)


class TestBarSnapshot:
    def test_valid_bar_keeps_its_values_as_floats(self):
        bar = make_bar(volume=7)
        assert bar.close == 4005.0 and bar.volume == 7.0 and isinstance(bar.volume, float)

    @pytest.mark.parametrize("changes, message", [
        (dict(high=4001.0), "low <= open, close <= high"),
        (dict(low=4002.0), "low <= open, close <= high"),
        (dict(volume=-1), "volume must be >= 0"),
        (dict(close=float("nan")), "close must be finite"),
        (dict(open=0.0, low=0.0), "open must be > 0"),
        (dict(datetime=datetime(2024, 12, 23, 10)), "timezone-aware"),
        (dict(vt_symbol=""), "vt_symbol must be a non-empty string"),
    ])
    def test_invalid_bar_is_refused_with_a_clear_message(self, changes, message):
        with pytest.raises(ValueError, match=message):
            make_bar(**changes)

    def test_price_of_wrong_type_is_a_type_error(self):
        with pytest.raises(TypeError, match="close must be a real number"):
            make_bar(close="4005")

    def test_is_frozen(self):
        with pytest.raises(FrozenInstanceError):
            make_bar().close = 1.0


class TestOptionContractAndQuote:
    def test_days_to_expiry_and_otm_amount(self):
        put, call = option(3800, OptionType.PUT), option(4200, OptionType.CALL)
        assert put.days_to_expiry(date(2025, 1, 10)) == 7
        assert put.days_to_expiry(date(2025, 1, 17)) == 0
        assert put.otm_amount(4000) == 200 and put.is_out_of_the_money(4000)
        assert call.otm_amount(4000) == 200 and call.is_out_of_the_money(4000)
        assert put.otm_amount(3700) == 0 and not put.is_out_of_the_money(3800)
        assert call.otm_amount(4300) == 0

    def test_vt_symbol_must_be_symbol_dot_exchange(self):
        with pytest.raises(ValueError, match="vt_symbol must be symbol.exchange"):
            OptionContract("IO2501-P-3800.SSE", "IO2501-P-3800", "CFFEX", "IO", FUTURE, OptionType.PUT,
                           3800, date(2025, 1, 17), 100, 0.2)

    @pytest.mark.parametrize("field, value, error", [
        ("strike", 0, ValueError), ("multiplier", -100, ValueError), ("pricetick", float("inf"), ValueError),
        ("option_type", "PUT", TypeError), ("expiry", "2025-01-17", TypeError),
    ])
    def test_invalid_fields(self, field, value, error):
        values = dict(vt_symbol="IO2501-P-3800.CFFEX", symbol="IO2501-P-3800", exchange="CFFEX", product="IO",
                      underlying_vt_symbol=FUTURE, option_type=OptionType.PUT, strike=3800,
                      expiry=date(2025, 1, 17), multiplier=100, pricetick=0.2)
        values[field] = value
        with pytest.raises(error, match=field):
            OptionContract(**values)

    def test_spread_ratio_needs_both_sides(self):
        contract = option(3800)
        assert quote(contract).spread_ratio is None
        assert quote(contract, bid=19.0).spread_ratio is None
        both = quote(contract, last=20.0, bid=19.0, ask=21.0)
        assert both.spread_ratio == pytest.approx(0.1)
        assert both.mid == 20.0 and both.mark_price == 20.0
        assert quote(contract, last=18.0).mark_price == 18.0

    def test_bid_above_ask_is_refused(self):
        with pytest.raises(ValueError, match="bid 22.0 is above ask 21.0"):
            quote(option(3800), bid=22.0, ask=21.0)

    def test_negative_last_price_is_refused(self):
        with pytest.raises(ValueError, match="last_price"):
            quote(option(3800), last=-1.0)


class TestOrderInstruction:
    def make(self, **changes):
        values = dict(vt_symbol="IO2501-P-3800.CFFEX", direction=Direction.SHORT, offset=Offset.OPEN, volume=2,
                      price=20.2, reason="open SELL_PUT", signal=SignalType.SELL_PUT)
        values.update(changes)
        return OrderInstruction(**values)

    def test_valid(self):
        instruction = self.make()
        assert instruction.volume == 2 and instruction.signal is SignalType.SELL_PUT
        assert instruction.is_on_tick(0.2) and not self.make(price=20.3).is_on_tick(0.2)

    @pytest.mark.parametrize("changes, error, message", [
        (dict(volume=0), ValueError, "volume must be >= 1"),
        (dict(volume=1.5), TypeError, "volume must be an integer"),
        (dict(volume=True), TypeError, "volume must be an integer"),
        (dict(price=0.0), ValueError, "price must be > 0"),
        (dict(price=float("nan")), ValueError, "price must be finite"),
        (dict(reason=" "), ValueError, "reason must be a non-empty string"),
        (dict(direction="SHORT"), TypeError, "direction must be a Direction"),
        (dict(signal=CloseReason.STOP_LOSS), TypeError, "signal must be a SignalType"),
    ])
    def test_invalid(self, changes, error, message):
        with pytest.raises(error, match=message):
            self.make(**changes)

    def test_align_price_nearest_and_by_side(self):
        assert align_price(3.33, 0.2) == 3.4
        assert align_price(3.29, 0.2) == 3.2
        assert align_price(3.33, 0.2, Direction.LONG) == 3.2
        assert align_price(3.21, 0.2, Direction.SHORT) == 3.4
        assert align_price(0.6000000000000001, 0.2) == 0.6
        assert align_price(0.05, 0.2) == 0.2  # never zero

    @given(st.integers(min_value=1, max_value=100_000), st.floats(min_value=-0.49, max_value=0.49),
           st.sampled_from([0.2, 0.5, 1.0, 0.01]))
    def test_align_price_returns_the_nearest_tick(self, ticks, fraction, tick):
        aligned = align_price((ticks + fraction) * tick, tick)
        assert aligned == pytest.approx(ticks * tick, abs=1e-9)
        assert align_price(aligned, tick) == aligned


class TestSmallValues:
    def test_contract_params(self):
        params = ContractParams("IO2501-P-3800.CFFEX", multiplier=100, pricetick=0.2, margin_ratio=0.1)
        assert params.min_volume == 1
        with pytest.raises(ValueError, match="margin_ratio must be in"):
            ContractParams("X.CFFEX", 100, 0.2, margin_ratio=1.5)
        with pytest.raises(ValueError, match="min_volume must be >= 1"):
            ContractParams("X.CFFEX", 100, 0.2, 0.1, min_volume=0)

    def test_account_snapshot(self):
        assert AccountSnapshot(1e6, -5.0, 0.0, at()).available == -5.0  # a margin call is a real state
        with pytest.raises(ValueError, match="frozen must be >= 0"):
            AccountSnapshot(1e6, 1e6, -1, at())
        with pytest.raises(ValueError, match="taken_at must be timezone-aware"):
            AccountSnapshot(1e6, 1e6, 0, datetime(2024, 12, 23))

    def test_position_snapshot(self):
        assert PositionSnapshot("X.CFFEX", Direction.SHORT, 0, 0.0).volume == 0
        with pytest.raises(ValueError, match="volume must be >= 0"):
            PositionSnapshot("X.CFFEX", Direction.SHORT, -1, 10.0)

    def test_future_quote(self):
        future = FutureQuote(FUTURE, "IF", date(2025, 1, 17), 100, 200)
        assert future.days_to_expiry(date(2025, 1, 10)) == 7
        with pytest.raises(ValueError, match="open_interest"):
            FutureQuote(FUTURE, "IF", date(2025, 1, 17), 100, -1)

    def test_signal_type_answers_are_the_specified_strings(self):
        assert SignalType.SELL_PUT == "SELL_PUT" and SignalType("SELL_CALL") is SignalType.SELL_CALL
        assert SignalType.SELL_PUT.option_type is OptionType.PUT
        assert SignalType.SELL_CALL.option_type is OptionType.CALL
        assert {reason.value for reason in CloseReason} == {
            "REVERSAL", "PROFIT_TARGET", "STOP_LOSS", "EXPIRY", "ROLLOVER"}

    def test_order_status_activity(self):
        assert {status for status in OrderStatus if status.is_active} == {
            OrderStatus.SUBMITTING, OrderStatus.NOT_TRADED, OrderStatus.PART_TRADED}

    def test_selection_and_sizing_results(self):
        chosen = SelectionResult.chosen(quote(option(3800)), "level 1")
        assert chosen.is_selected and chosen.contract.strike == 3800
        refused = SelectionResult.refused("no puts")
        assert not refused.is_selected and refused.quote is None
        with pytest.raises(ValueError, match="together"):
            SelectionResult(option(3800), "half")
        with pytest.raises(ValueError, match="reason"):
            SelectionResult.refused("")
        assert SizingResult(3, "ok", 1000.0).is_sized
        assert not SizingResult(None, "too small").is_sized
        with pytest.raises(ValueError, match="volume must be >= 1"):
            SizingResult(0, "zero")
