"""What the cycle saves to resume after a restart, and how it comes back.

Indicators and bars are not saved: they are rebuilt from history at start.
The payload is plain JSON (the state repository checksums and versions it).

A state saved before orders carried a ``purpose`` kept the hedge book as a
list of execution ids (``hedge_executions``); restoring it marks those
executions' instructions as hedges, so such a state still resumes whole.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime

from src.strategy.application.trading_cycle import TradingCycle
from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.advanced_order_scheduler import AdvancedOrderScheduler
from src.strategy.domain.domain_service.gamma_scalping_engine import GammaScalpingEngine
from src.strategy.domain.domain_service.portfolio_delta import DeltaBandTracker
from src.strategy.domain.domain_service.smart_order_executor import SmartOrderExecutor
from src.strategy.domain.value_object.order_instruction import OrderPurpose


def capture(cycle: TradingCycle) -> dict:
    services = cycle.services
    return {
        "positions": services.positions.to_dict(),
        "active_contracts": dict(services.instruments.active_contracts()),
        "implied_vols": dict(services.greeks.implied_vols),
        "latest_signals": dict(cycle.latest_signals),
        "counters": cycle.counters.as_dict(),
        "executor": services.executor.to_dict(),
        "scheduler": services.scheduler.to_dict(),
        "gamma_scalping": services.gamma_engine.to_dict(),
        "band_trackers": {product: tracker.to_dict() for product, tracker in services.band_trackers.items()},
        "fees": cycle.fees.to_dict(),
        **({"safeguards": cycle.safeguards.to_dict()} if cycle.safeguards is not None else {}),
        **({"book_risk": services.book_risk.to_dict()} if services.book_risk is not None else {}),
    }


def restore(cycle: TradingCycle, state: Mapping, at: datetime) -> None:
    services = cycle.services
    services.positions = PositionAggregate.from_dict(state["positions"])
    for params in cycle.contract_params.values():
        services.positions.register_contract(params)
    for product, vt_symbol in state.get("active_contracts", {}).items():
        if vt_symbol in cycle.futures and product in services.instruments.products():
            services.instruments.set_active_contract(product, vt_symbol, at)
    if "executor" in state:
        executor_state = _with_hedge_purposes(state["executor"], state.get("hedge_executions", ()))
        services.executor = SmartOrderExecutor.from_dict(executor_state, services.execution_gateway,
                                                         services.execution_settings, services.clocks)
        for params in cycle.contract_params.values():
            services.executor.register_contract(params)
        services.scheduler = AdvancedOrderScheduler.from_dict(state["scheduler"], services.executor,
                                                               services.advanced_settings, services.clocks)
        services.gamma_engine = GammaScalpingEngine.from_dict(state["gamma_scalping"], services.hedging_config)
        for product, tracker in state.get("band_trackers", {}).items():
            if product in services.band_trackers:
                services.band_trackers[product] = DeltaBandTracker.from_dict(tracker)
    services.greeks.implied_vols.update(state.get("implied_vols", {}))
    cycle.latest_signals.update(state.get("latest_signals", {}))
    cycle.counters.restore(state.get("counters", {}))
    cycle.fees.restore(state.get("fees", {}))
    if cycle.safeguards is not None and "safeguards" in state:
        cycle.safeguards.restore(state["safeguards"])
    if services.book_risk is not None:
        services.book_risk.restore(state.get("book_risk", {}))


def _with_hedge_purposes(executor_state: Mapping, hedge_execution_ids) -> Mapping:
    hedges = set(hedge_execution_ids)
    if not hedges:
        return executor_state
    migrated = copy.deepcopy(dict(executor_state))
    for execution in migrated.get("executions", []):
        if execution["execution_id"] in hedges:
            execution["instruction"]["purpose"] = OrderPurpose.HEDGE.value
    return migrated
