"""How many lots of an option to sell.

Margin per lot of a short option follows the CFFEX rule for index options:

    premium * multiplier
      + max(underlying * multiplier * margin_ratio - otm_amount,
            min_guarantee_ratio * base * multiplier * margin_ratio)

``otm_amount`` is how far the option is out of the money times the multiplier
(calls: strike - underlying, puts: underlying - strike, never below 0);
``base`` is the underlying price for a call and the strike for a put, as in
the exchange's rule; ``margin_ratio`` is the contract's margin rate (the
"合约保证金调整系数") and ``min_guarantee_ratio`` the "最低保障系数" (0.5). The
exchange uses the option's previous settlement price and the index's previous
close: the caller passes the previous day's last prices (the option's, and its
mapped future's standing in for the index, which the bars do not carry); on a
contract's first day, the current prices. ``broker_margin_multiplier`` scales
the exchange's margin to the broker's.

Lots = the fewest of
- ``position_ratio`` of the balance divided by the margin per lot,
- the available funds divided by the margin per lot,
- ``max_volume_per_order`` when set,
rounded down to a multiple of the contract's ``min_volume``. Refused when the
strategy already holds (or is opening) ``max_positions`` positions, or when
fewer than ``min_volume`` lots fit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType
from src.strategy.domain.value_object.sizing_result import SizingResult
from src.strategy.domain.value_object.validation import require_int, require_non_negative, require_positive


@dataclass(frozen=True)
class SizingSettings:
    max_positions: int = 5
    position_ratio: float = 0.1
    min_guarantee_ratio: float = 0.5
    max_volume_per_order: int | None = None
    broker_margin_multiplier: float = 1.0  # the broker's margin over the exchange's (1.0: the exchange's)

    def __post_init__(self) -> None:
        owner = "SizingSettings"
        require_int(owner, "max_positions", self.max_positions, 1)
        ratio = require_positive(owner, "position_ratio", self.position_ratio)
        if ratio > 1:
            raise ValueError(f"{owner}.position_ratio must be in (0, 1], got {ratio}")
        guarantee = require_positive(owner, "min_guarantee_ratio", self.min_guarantee_ratio)
        if guarantee > 1:
            raise ValueError(f"{owner}.min_guarantee_ratio must be in (0, 1], got {guarantee}")
        if self.max_volume_per_order is not None:
            require_int(owner, "max_volume_per_order", self.max_volume_per_order, 1)
        if require_positive(owner, "broker_margin_multiplier", self.broker_margin_multiplier) < 1:
            raise ValueError(f"{owner}.broker_margin_multiplier must be >= 1, got {self.broker_margin_multiplier}")


class PositionSizingService:
    def __init__(self, settings: SizingSettings = SizingSettings()) -> None:
        self.settings = settings

    def short_option_margin(self, contract: OptionContract, option_price: float, underlying_price: float,
                            params: ContractParams) -> float:
        """Margin of one short lot (see the module's documentation)."""
        self._check_params(contract, params)
        option_price = require_non_negative("short_option_margin", "option_price", option_price)
        underlying_price = require_positive("short_option_margin", "underlying_price", underlying_price)
        multiplier, rate = params.multiplier, params.margin_ratio
        otm_amount = contract.otm_amount(underlying_price) * multiplier
        base = underlying_price if contract.option_type is OptionType.CALL else contract.strike
        return self.settings.broker_margin_multiplier * (option_price * multiplier + max(
            underlying_price * multiplier * rate - otm_amount,
            self.settings.min_guarantee_ratio * base * multiplier * rate))

    def future_margin(self, price: float, params: ContractParams) -> float:
        """Margin of one futures lot, either side: the margin ratio of its notional."""
        return self.settings.broker_margin_multiplier * price * params.multiplier * params.margin_ratio

    def size(self, contract: OptionContract, option_price: float, underlying_price: float,
             params: ContractParams, account: AccountSnapshot, open_positions: int) -> SizingResult:
        s = self.settings
        open_positions = require_int("PositionSizingService.size", "open_positions", open_positions, 0)
        if open_positions >= s.max_positions:
            return SizingResult(None, f"{contract.vt_symbol}: {open_positions} positions held or opening, "
                                      f"max_positions is {s.max_positions}")
        margin = self.short_option_margin(contract, option_price, underlying_price, params)
        budget = account.balance * s.position_ratio
        lots = min(math.floor(budget / margin), math.floor(account.available / margin))
        if s.max_volume_per_order is not None:
            lots = min(lots, s.max_volume_per_order)
        lots -= lots % params.min_volume
        if lots < params.min_volume:
            return SizingResult(
                None, f"{contract.vt_symbol}: margin {margin:.2f} per lot, budget {budget:.2f} "
                      f"({s.position_ratio:g} of balance {account.balance:.2f}), available {account.available:.2f}: "
                      f"fewer than {params.min_volume} lot(s) fit", margin)
        return SizingResult(lots, f"{contract.vt_symbol}: {lots} lot(s) at margin {margin:.2f} per lot, "
                                  f"budget {budget:.2f}, available {account.available:.2f}", margin)

    @staticmethod
    def _check_params(contract: OptionContract, params: ContractParams) -> None:
        if params.vt_symbol != contract.vt_symbol:
            raise ValueError(f"PositionSizingService: ContractParams of {params.vt_symbol} given for {contract.vt_symbol}")
        if not math.isclose(params.multiplier, contract.multiplier):
            raise ValueError(f"PositionSizingService: {contract.vt_symbol} multiplier {contract.multiplier} "
                             f"disagrees with its ContractParams ({params.multiplier})")
