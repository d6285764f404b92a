"""``strike_selection: delta`` through BacktestRunner on the sample market: every opened option had, at
its opening bar, a per-lot |delta| inside the band (the cycle's own bar pricing)."""
from __future__ import annotations

from datetime import date

import pytest

from src.backtesting.config import BacktestConfig
from src.backtesting.runner import BacktestRunner
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.core.database_factory import create_database
from src.datafeed.sample_market import ensure_sample_market
from src.paths import CONFIG_DIR
from src.strategy.domain.domain_service.option_selector_service import OptionSelectorService
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent

START, END = date(2026, 1, 5), date(2026, 1, 14)
BAND = (0.15, 0.25)


@pytest.fixture(scope="module")
def delta_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("delta")
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "s.db")}))
    ensure_sample_market(database, START, END)
    override = CONFIG_DIR / "timeframe" / "15m.yaml"
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, override, assignments={
        "strategies[0].setting.strike_selection": "delta",
        "strategies[0].setting.target_delta_min": BAND[0], "strategies[0].setting.target_delta_max": BAND[1]})
    chosen: list[tuple[str, float]] = []   # (vt_symbol, delta the cycle priced at the opening bar)
    original = OptionSelectorService.select_option

    def recording(self, chain, signal, underlying_price, today, deltas=None):
        result = original(self, chain, signal, underlying_price, today, deltas)
        if result.is_selected:
            chosen.append((result.contract.vt_symbol, deltas[result.contract.vt_symbol]))
        return result

    published: list[DomainEvent] = []
    mp = pytest.MonkeyPatch()
    mp.setattr(OptionSelectorService, "select_option", recording)
    try:
        runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END), database,
                                DEFAULT_STRATEGY_CONFIG, override, event_handlers=((DomainEvent, published.append),))
        runner.run(folder / "report")
    finally:
        mp.undo()
    return runner.last_engine, chosen, published


def test_opened_options_had_a_delta_inside_the_band_at_their_opening_bar(delta_run):
    engine, chosen, published = delta_run
    strategy = engine.strategy
    assert strategy.cycle.services.option_selector.by_delta
    openings = [view for view in strategy.cycle.executor.executions() if view.instruction.offset.value == "OPEN"
                and not view.instruction.is_hedge]
    assert openings, "the delta mode opened nothing on the sample market"
    assert chosen and all(BAND[0] <= abs(delta) <= BAND[1] for _symbol, delta in chosen)
    assert {view.instruction.vt_symbol for view in openings} <= {symbol for symbol, _delta in chosen}
    refusals = [e for e in published if isinstance(e, DecisionRefusedEvent)]
    assert all(refusal.reason.strip() for refusal in refusals)
