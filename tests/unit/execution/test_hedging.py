import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.delta_hedging_engine import DeltaHedgingEngine, whole_hedge_lots
from src.strategy.domain.domain_service.gamma_scalping_engine import GammaScalpingEngine, HedgeTradeLedger
from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.portfolio_delta import (
    DeltaBandTracker,
    futures_equivalent_delta,
    portfolio_delta_lots,
)
from src.strategy.domain.event.hedge_events import DeltaOutsideBandEvent, HedgeOrderEvent, HedgeRefusedEvent
from src.strategy.domain.value_object.hedging_config import HedgingConfig
from src.strategy.domain.value_object.market import Direction, Offset

from .fakes import FUTURE, at

IF_MULTIPLIER, IO_MULTIPLIER = 300.0, 100.0


def delta_engine(target=0.0, band=0.5, max_lots=None) -> DeltaHedgingEngine:
    return DeltaHedgingEngine(HedgingConfig(target_delta=target, hedging_band=band, delta_hedging_enabled=True,
                                            max_hedge_lots=max_lots))


def evaluate(engine, delta, **kwargs):
    return engine.evaluate(portfolio_delta=delta, hedge_symbol=FUTURE, reference_price=4000.0, at=at(), **kwargs)


def signed(instruction) -> int:
    return instruction.direction.sign * instruction.volume


class TestHedgingConfig:
    def test_validation(self):
        with pytest.raises(ValueError, match="hedging_band must be >= 0"):
            HedgingConfig(hedging_band=-0.1)
        with pytest.raises(ValueError, match="rebalance_threshold must be > 0"):
            HedgingConfig(rebalance_threshold=0)
        with pytest.raises(ValueError, match="not both"):
            HedgingConfig(delta_hedging_enabled=True, gamma_scalping_enabled=True)
        with pytest.raises(ValueError, match="max_hedge_lots must be >= 1"):
            HedgingConfig(max_hedge_lots=0)
        with pytest.raises(TypeError, match="must be a bool"):
            HedgingConfig(delta_hedging_enabled="yes")
        assert not HedgingConfig().any_enabled


class TestPortfolioDelta:
    def test_short_io_puts_in_if_lots(self):
        # 10 short IO puts of delta -0.3: +10 x 0.3 x 100 / 300 = +1 IF lot
        assert portfolio_delta_lots([-10], [-0.3], [IO_MULTIPLIER], IF_MULTIPLIER) == pytest.approx(1.0)
        assert portfolio_delta_lots([-10, 6], [-0.3, 0.5], IO_MULTIPLIER, IF_MULTIPLIER, future_lots=-2) == \
            pytest.approx(1.0 + 1.0 - 2)
        per_option = futures_equivalent_delta(np.array([[3, -3]]), np.array([[0.5, 0.5]]), 100.0, 300.0)
        assert per_option.shape == (1, 2) and per_option.tolist() == [[0.5, -0.5]]

    def test_unknown_greeks_make_the_delta_unknown(self):
        assert math.isnan(portfolio_delta_lots([1, 2], [0.5, np.nan], 100.0, 300.0))
        with pytest.raises(ValueError, match="multiplier"):
            futures_equivalent_delta([1], [0.5], [0.0], 300.0)

    def test_with_the_greeks_calculator(self):
        # The entry's path: per-unit deltas of the held options from GreeksCalculator (Black-76 on the future).
        future_price = 4000.0
        strikes = np.array([3900.0, 3800.0, 4300.0])
        kinds = np.array(["P", "P", "C"])
        lots = np.array([-10, -10, -4])
        deltas = GreeksCalculator("black76").calculate_batch(kinds, future_price, strikes, 30 / 365, 0.02, 0.2).delta
        delta = portfolio_delta_lots(lots, deltas, IO_MULTIPLIER, IF_MULTIPLIER)
        assert delta == pytest.approx(float(np.sum(lots * deltas)) * 100 / 300)
        engine = delta_engine()
        order = evaluate(engine, delta)
        assert delta > 0.5 and order.direction is Direction.SHORT
        assert abs(delta + signed(order)) <= 0.5


class TestDeltaHedging:
    def test_no_trade_inside_the_band_and_none_when_disabled(self):
        engine = delta_engine(band=0.5)
        assert evaluate(engine, 0.5) is None and evaluate(engine, -0.5) is None
        assert evaluate(engine, 0.1 + 0.4) is None
        assert engine.pop_events() == []
        off = DeltaHedgingEngine(HedgingConfig())
        assert evaluate(off, 10.0) is None and off.pop_events() == []

    def test_hedges_back_to_the_target_in_whole_lots(self):
        engine = delta_engine(target=1.0, band=0.5)
        order = evaluate(engine, 3.6)
        assert (order.direction, order.offset, order.volume, order.price) == (Direction.SHORT, Offset.OPEN, 3, 4000.0)
        events = engine.pop_events()
        assert [type(e) for e in events] == [DeltaOutsideBandEvent, HedgeOrderEvent]
        assert events[1].lots == -3 and events[1].expected_delta == pytest.approx(0.6)
        assert engine.hedge_order_count == 1

    def test_closes_the_opposite_futures_when_they_cover_the_hedge(self):
        engine = delta_engine()
        assert evaluate(engine, -2.2, short_lots=2).offset is Offset.CLOSE
        assert evaluate(engine, -2.2, short_lots=1).offset is Offset.OPEN
        assert evaluate(engine, 3.0, long_lots=5).offset is Offset.CLOSE

    def test_max_lots_cap_and_the_reason_says_so(self):
        engine = delta_engine(max_lots=2)
        order = evaluate(engine, -7.0)
        assert signed(order) == 2 and "capped at max_hedge_lots 2" in order.reason

    def test_working_hedges_are_not_sent_twice(self):
        engine = delta_engine()
        assert evaluate(engine, 3.0, pending_lots=-3) is None
        refusal = [e for e in engine.pop_events() if isinstance(e, HedgeRefusedEvent)]
        assert len(refusal) == 1 and "still working" in refusal[0].reason
        assert signed(evaluate(engine, 5.0, pending_lots=-3)) == -2

    def test_refusals_have_reasons(self):
        engine = delta_engine(band=0.2)
        assert evaluate(engine, 0.4) is None
        assert "rounds to no whole lot" in engine.pop_events()[-1].reason
        assert evaluate(engine, float("nan")) is None
        assert "unknown" in engine.pop_events()[-1].reason

    def test_rounding_halves_toward_zero(self):
        assert [whole_hedge_lots(x) for x in (0.49, 0.5, 0.51, 1.5, 2.5, -0.5, -2.5, -2.6, 0.1 + 0.2 + 0.2)] == \
            [0, 0, 1, 1, 2, 0, -2, -3, 0]
        assert whole_hedge_lots(-9.0, 4) == -4

    @settings(max_examples=300, deadline=None)
    @given(delta=st.floats(-60, 60), target=st.floats(-3, 3), band=st.floats(0, 3),
           cap=st.one_of(st.none(), st.integers(1, 10)))
    def test_band_invariants(self, delta, target, band, cap):
        engine = delta_engine(target=target, band=band, max_lots=cap)
        order = evaluate(engine, delta)
        deviation = abs(delta - target)
        if deviation <= band or math.isclose(deviation, band, rel_tol=1e-12, abs_tol=1e-12):  # the edge is inside
            assert order is None
            assert not [e for e in engine.pop_events() if isinstance(e, HedgeOrderEvent)]
            return
        if order is None:
            assert deviation < 0.5 + 1e-9   # only a sub-lot deviation is left alone
            return
        after = delta + signed(order)
        assert abs(after - target) < deviation
        if cap is None or order.volume < cap:
            assert abs(after - target) <= band + 1.0
            assert abs(after - target) <= 0.5 + 1e-9


class TestBandTracker:
    def test_counts_and_round_trip(self):
        tracker = DeltaBandTracker(target=0.0, band=0.5)
        for value in (0.1, -0.7, 0.5, 2.0, float("nan")):
            tracker.observe(value)
        assert (tracker.observations, tracker.outside, tracker.max_abs_delta) == (4, 2, 2.0)
        assert tracker.share_outside_band == 0.5
        assert DeltaBandTracker.from_dict(json.loads(json.dumps(tracker.to_dict()))).to_dict() == tracker.to_dict()
        assert DeltaBandTracker(0.0, 1.0).share_outside_band == 0.0


def scalper(threshold=0.3, **kwargs) -> GammaScalpingEngine:
    return GammaScalpingEngine(HedgingConfig(rebalance_threshold=threshold, gamma_scalping_enabled=True, **kwargs))


def run_path(engine, prices, gamma_lots_per_point, base=4000.0):
    """A long-gamma book whose options' delta is gamma x (F - base) IF lots; hedges fill at once at F."""
    hedge_lots = 0
    trades = 0
    for step, price in enumerate(prices):
        delta = gamma_lots_per_point * (price - base) + hedge_lots
        order = engine.evaluate(portfolio_delta=delta, hedge_symbol=FUTURE, reference_price=price, at=at(),
                                long_lots=max(hedge_lots, 0), short_lots=max(-hedge_lots, 0))
        if order is not None:
            trades += 1
            engine.record_fill(f"T{trades}", FUTURE, order.direction, order.volume, price, IF_MULTIPLIER, at())
            hedge_lots += signed(order)
    return hedge_lots


class TestGammaScalping:
    def test_pnl_of_an_oscillating_path(self):
        # gamma 0.1 lot per point, threshold 0.3, target 0. Deltas (options + hedge) and trades:
        #   4000: 0 | 4005: +0.5, drift 0.5 but a lot would only flip it to -0.5: re-anchored at +0.5 |
        #   4010: +1.0, drift 0.5 -> sell 1 @ 4010, anchor 0 | 4000: -1 -> buy 1 @ 4000 (+10 x 300 = 3000) |
        #   3990: -1 -> buy 1 @ 3990 | 4000: +1 -> sell 1 @ 4000 (+10 x 300 = 3000) |
        #   4010: +1 -> sell 1 @ 4010 | 4000: -1 -> buy 1 @ 4000 (+10 x 300 = 3000).
        #   Total 9000 over 6 fills, flat at the end.
        engine = scalper()
        final = run_path(engine, [4000, 4005, 4010, 4000, 3990, 4000, 4010, 4000], 0.1)
        assert final == 0
        assert engine.scalping_pnl == pytest.approx(9000.0)
        assert engine.hedge_trade_count == 6 and engine.rebalance_count == 6
        refusals = [e for e in engine.pop_events() if isinstance(e, HedgeRefusedEvent)]
        assert len(refusals) == 1 and "re-anchored" in refusals[0].reason

    def test_a_two_lot_swing(self):
        engine = scalper()
        run_path(engine, [4000, 4020, 4000, 3980, 4000], 0.1)
        # sell 2 @ 4020, buy 2 @ 4000 (+12000), buy 2 @ 3980, sell 2 @ 4000 (+12000)
        assert engine.scalping_pnl == pytest.approx(24000.0)

    def test_no_rebalance_within_the_threshold(self):
        engine = scalper(threshold=1.2)
        assert engine.evaluate(portfolio_delta=1.2, hedge_symbol=FUTURE, reference_price=4000.0, at=at()) is None
        order = engine.evaluate(portfolio_delta=1.3, hedge_symbol=FUTURE, reference_price=4000.0, at=at())
        assert signed(order) == -1 and engine.anchor_delta == pytest.approx(0.3)
        # drift is measured from the anchor (0.3), not from the target
        assert engine.evaluate(portfolio_delta=1.4, hedge_symbol=FUTURE, reference_price=4000.0, at=at(),
                               pending_lots=-1) is None
        assert GammaScalpingEngine(HedgingConfig()).evaluate(
            portfolio_delta=9.0, hedge_symbol=FUTURE, reference_price=4000.0, at=at()) is None

    def test_ledger_fifo_and_duplicates(self):
        ledger = HedgeTradeLedger()
        assert ledger.record("a", FUTURE, Direction.LONG, 2, 4000.0, 300) == 0.0
        assert ledger.record("b", FUTURE, Direction.LONG, 1, 4010.0, 300) == 0.0
        assert ledger.record("c", FUTURE, Direction.SHORT, 4, 4020.0, 300) == pytest.approx((20 * 2 + 10) * 300)
        assert ledger.open_lots(FUTURE) == -1
        assert ledger.unrealized_pnl(FUTURE, 4000.0) == pytest.approx(20 * 300)
        assert ledger.record("c", FUTURE, Direction.SHORT, 4, 4020.0, 300) is None
        assert ledger.trade_count == 3
        with pytest.raises(ValueError, match="multiplier"):
            ledger.record("d", FUTURE, Direction.LONG, 1, 4000.0, 200)

    @settings(max_examples=100, deadline=None)
    @given(fills=st.lists(st.tuples(st.booleans(), st.integers(1, 5), st.integers(3900, 4100)), max_size=30),
           split=st.integers(0, 30))
    def test_state_round_trip_and_pnl_conservation(self, fills, split):
        engine = scalper()
        restored = engine
        for index, (buy, volume, price) in enumerate(fills):
            if index == split:
                restored = GammaScalpingEngine.from_dict(json.loads(json.dumps(engine.to_dict())), engine.settings)
                assert restored.to_dict() == engine.to_dict()
                engine = restored
            engine.record_fill(f"T{index}", FUTURE, Direction.LONG if buy else Direction.SHORT, volume, float(price),
                               IF_MULTIPLIER, at())
        # realized + open at any mark equals the cash flow of all fills marked there
        mark = 4000.0
        cash = sum((mark - price) * volume * (1 if buy else -1) * IF_MULTIPLIER for buy, volume, price in fills)
        assert engine.scalping_pnl + engine.ledger.unrealized_pnl(FUTURE, mark) == pytest.approx(cash)
