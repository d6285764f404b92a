"""The per-lot Greeks one step of the trading cycle needs, priced once.

Within one bar the book's options are priced several times: the risk check of
each window bar (the book, then the book with the candidate), each product's
delta for hedging every minute, the monitor's view. Each of those used to call
the pricer on one or two options, where numpy's fixed cost per call is most of
the work. A ``BarGreeks`` belongs to one valuation time (the bar's ``now``):
the cycle asks it first for every option the bar needs, in one vectorised call
of ``OptionGreeksService.per_lot``, and every later request of that step is
served from it.

A contract is served from the cache only when it is asked at the price and
underlying price it was priced at (the cache key is the contract at this
time; the prices are checked, not assumed); anything else is priced again,
all such options of a request in one call and in the request's order, and
replaces the entry. The pricer works element by element, and its one piece of
memory (the last good implied volatility of each option, used when a price has
none) changes only when an option is priced at a new price, so the answers and
that memory are those of calling ``per_lot`` directly on each request (equal to
the last bits or so: numpy may round a one-element array and a longer one
differently; the default backtest's reports are byte-identical either way).

Not shared between bars and not global: the cycle makes one per valuation
time and drops it with the bar.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from src.strategy.domain.domain_service.option_greeks_service import OptionGreeksService
from src.strategy.domain.value_object.greeks import GreeksResult
from src.strategy.domain.value_object.option_contract import OptionContract


class BarGreeks:
    """Per-lot Greeks of options at one valuation time, each priced once per price."""

    __slots__ = ("service", "now", "_underlying_price", "_entries", "pricer_calls", "options_priced")

    def __init__(self, service: OptionGreeksService, now: datetime,
                 underlying_price: Callable[[str], float]) -> None:
        self.service = service
        self.now = now
        self._underlying_price = underlying_price
        # vt_symbol -> (contract, price, underlying price, result)
        self._entries: dict[str, tuple[OptionContract, float, float, GreeksResult | None]] = {}
        self.pricer_calls = 0
        self.options_priced = 0

    def per_lot(self, contracts: Sequence[OptionContract],
                prices: Sequence[float]) -> list[GreeksResult | None]:
        """The Greeks of one lot of each option at its price (None where unknown), as
        ``OptionGreeksService.per_lot`` at this time would give them."""
        if len(contracts) != len(prices):
            raise ValueError(f"BarGreeks.per_lot: {len(contracts)} contracts but {len(prices)} prices")
        results: list[GreeksResult | None] = [None] * len(contracts)
        missing: list[int] = []
        repriced: set[str] = set()
        entries = self._entries
        for index, contract in enumerate(contracts):
            symbol = contract.vt_symbol
            entry = entries.get(symbol)
            # An option already being priced again in this request is priced again at each mention, in
            # order, as the pricer called directly would (its memory is per option and order matters).
            if (symbol not in repriced and entry is not None and (entry[0] is contract or entry[0] == contract)
                    and entry[1] == prices[index]
                    and entry[2] == self._underlying_price(contract.underlying_vt_symbol)):
                results[index] = entry[3]
            else:
                missing.append(index)
                repriced.add(symbol)
        if missing:
            self._price([contracts[i] for i in missing], [prices[i] for i in missing], missing, results)
        return results

    def _price(self, contracts: list[OptionContract], prices: list[float], slots: list[int],
               results: list[GreeksResult | None]) -> None:
        underlying = self._underlying_price
        priced = self.service.per_lot(contracts, prices, underlying, self.now)
        self.pricer_calls += 1
        self.options_priced += len(contracts)
        for contract, price, slot, result in zip(contracts, prices, slots, priced):
            self._entries[contract.vt_symbol] = (contract, price, underlying(contract.underlying_vt_symbol), result)
            results[slot] = result
