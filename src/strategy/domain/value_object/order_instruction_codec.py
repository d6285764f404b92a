"""Plain-JSON forms of ``OrderInstruction`` and of aware datetimes, for the services' saved state."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction, OrderPurpose
from src.strategy.domain.value_object.signal_type import SignalType
from src.strategy.domain.value_object.validation import require_aware


def instruction_to_dict(instruction: OrderInstruction) -> dict:
    return {
        "vt_symbol": instruction.vt_symbol,
        "direction": instruction.direction.value,
        "offset": instruction.offset.value,
        "volume": instruction.volume,
        "price": instruction.price,
        "reason": instruction.reason,
        "signal": instruction.signal.value if instruction.signal is not None else None,
        "purpose": instruction.purpose.value,
    }


def instruction_from_dict(data: Mapping) -> OrderInstruction:
    return OrderInstruction(
        vt_symbol=data["vt_symbol"],
        direction=Direction(data["direction"]),
        offset=Offset(data["offset"]),
        volume=data["volume"],
        price=data["price"],
        reason=data["reason"],
        signal=SignalType(data["signal"]) if data.get("signal") else None,
        # States saved before the purpose existed kept the hedge book as a set of execution ids;
        # restoring such a state marks those executions (see the cycle's state codec).
        purpose=OrderPurpose(data.get("purpose", OrderPurpose.SIGNAL.value)),
    )


def time_to_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def time_from_text(text: str | None, owner: str, name: str) -> datetime | None:
    if text is None:
        return None
    return require_aware(owner, name, datetime.fromisoformat(text))
