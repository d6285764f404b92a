"""The contract cache as vnpy ``ContractData``, so vnpy apps (OptionMaster, the OMS) see the chains.

Naming follows vnpy_ib: ``symbol`` is the IB conId (what the IB gateway subscribes with), on
``Exchange.SMART``; ``option_portfolio`` is ``<underlying conId>_O`` (one portfolio per underlying);
``option_underlying`` is ``<underlying>-<YYYYMMDD>``, one chain per expiry date; ``option_index`` is the
strike as text; ``option_expiry`` is the settlement time (09:30 ET for AM-settled index classes,
16:00 ET otherwise).
"""
from __future__ import annotations

from collections.abc import Iterable

from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Exchange, OptionType, Product
from vnpy.trader.event import EVENT_CONTRACT
from vnpy.trader.object import ContractData

from src.datafeed.ib.contracts import OptionRecord

GATEWAY_NAME = "IB"
_RIGHTS = {"C": OptionType.CALL, "P": OptionType.PUT}


def contract_data(record: OptionRecord, gateway_name: str = GATEWAY_NAME) -> ContractData:
    return ContractData(
        gateway_name=gateway_name, symbol=str(record.con_id), exchange=Exchange.SMART,
        name=record.local_symbol or f"{record.trading_class} {record.expiry_text} {record.strike:g}{record.right}",
        product=Product.OPTION, size=record.multiplier, pricetick=0.01, min_volume=1, stop_supported=False,
        net_position=True, history_data=True, option_strike=record.strike,
        option_underlying=f"{record.underlying}-{record.expiry_text}", option_type=_RIGHTS[record.right],
        option_listed=None, option_expiry=record.settlement_time.replace(tzinfo=None),
        option_portfolio=f"{record.underlying_con_id}_O", option_index=f"{record.strike:g}")


def publish_contracts(event_engine: EventEngine, records: Iterable[OptionRecord],
                      gateway_name: str = GATEWAY_NAME) -> int:
    """Puts one ``EVENT_CONTRACT`` per record on the engine's queue; the number published."""
    count = 0
    for record in records:
        event_engine.put(Event(EVENT_CONTRACT, contract_data(record, gateway_name)))
        count += 1
    return count
