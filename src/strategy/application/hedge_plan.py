"""Which future hedges a product's options, and how wide its band is now (``domain_service.hedge_band``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from src.strategy.domain.domain_service.hedge_band import HedgeContract, choose_hedge_contract, effective_band


@dataclass(frozen=True)
class HedgePlan:
    contract: HedgeContract
    band: float


def hedge_plan(cycle, product: str, dominant: str, now: datetime) -> HedgePlan:
    settings = cycle.services.hedging_config
    option_product = cycle.instruments.get(product).option_product
    held = [p for p in cycle.positions.positions()
            if p.vt_symbol in cycle.options and cycle.options[p.vt_symbol].product == option_product]
    delta_by_future: dict[str, float] = {}
    gamma_units = 0.0
    if held and (settings.hedge_month == "options" or settings.band_model == "whalley_wilmott"):
        for position, greeks in zip(held, cycle._greeks_of(held, now)):
            if greeks is None:
                continue
            option = cycle.options[position.vt_symbol]
            scale = position.volume * position.direction.sign * cycle.contract_params[position.vt_symbol].multiplier
            future = option.underlying_vt_symbol
            if future in cycle.futures:
                delta_by_future[future] = delta_by_future.get(future, 0.0) + scale * greeks.delta
            gamma_units += scale * greeks.gamma
    trading = {vt: cycle.services.contracts.traded_today(vt) for vt in delta_by_future}
    contract = choose_hedge_contract(settings, dominant, delta_by_future, trading, cycle.last_prices)
    params = cycle.contract_params[contract.vt_symbol]
    band = effective_band(settings, gamma_units, cycle.last_prices.get(contract.vt_symbol, 0.0), params.multiplier)
    return HedgePlan(contract, band)


def delta_hedge_plan(cycle, product: str, dominant: str, price: float, now: datetime) -> tuple[str, float, float]:
    """The delta hedge's contract, its price and the band now; logs once why the options' month is not used."""
    plan = hedge_plan(cycle, product, dominant, now)
    note = plan.contract.note
    if note != cycle.hedge_notes.get(product):
        cycle.hedge_notes[product] = note
        if note:
            cycle.ports.events.write_log(f"{product}: {note}")
    symbol = plan.contract.vt_symbol
    return symbol, (price if symbol == dominant else cycle.last_prices[symbol]), plan.band
