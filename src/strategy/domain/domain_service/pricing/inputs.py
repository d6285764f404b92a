"""Input handling shared by the pricing kernels: option signs, broadcasting, validity."""
from __future__ import annotations

import math
from enum import Enum
from typing import Any

import numpy as np

INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
CHUNK = 16384

_CALL_NAMES = {"C", "CALL", "+1", "1"}
_PUT_NAMES = {"P", "PUT", "-1"}


# --------------------------------------------------------------------------- input handling

def option_sign(option_type: Any) -> np.ndarray:
    """+1.0 for calls, -1.0 for puts, NaN for anything else, as a float64 array of the input's shape."""
    array = np.asarray(option_type)
    if array.dtype.kind in "US":
        text = np.char.upper(np.char.strip(array.astype(str)))
        return np.where(np.isin(text, list(_CALL_NAMES)), 1.0,
                        np.where(np.isin(text, list(_PUT_NAMES)), -1.0, np.nan))
    if array.dtype.kind == "O":
        flat = [_sign_of_scalar(item) for item in array.ravel()]
        return np.asarray(flat, dtype=np.float64).reshape(array.shape)
    if array.dtype.kind in "iuf":
        values = array.astype(np.float64, copy=False)
        unit = (values == 1.0) | (values == -1.0)
        return values if unit.all() else np.where(unit, values, np.nan)
    return np.full(array.shape, np.nan)


def _sign_of_scalar(item: Any) -> float:
    if isinstance(item, Enum):
        item = item.value
    if isinstance(item, str):
        name = item.strip().upper()
        return 1.0 if name in _CALL_NAMES else -1.0 if name in _PUT_NAMES else math.nan
    if isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(item, bool):
        return float(item) if item in (1, -1) else math.nan
    return math.nan


class Inputs:
    """Inputs broadcast to one shape and flattened; size-1 inputs stay Python floats."""

    def __init__(self, shape: tuple[int, ...], values: dict[str, np.ndarray | float]):
        self.shape = shape
        self.size = int(np.prod(shape, dtype=np.int64))
        self.values = values

    @classmethod
    def build(cls, **named: Any) -> "Inputs":
        arrays: dict[str, np.ndarray] = {}
        for name, value in named.items():
            if name == "sign":
                arrays[name] = option_sign(value)
            else:
                try:
                    arrays[name] = np.asarray(value, dtype=np.float64)
                except (TypeError, ValueError):
                    arrays[name] = _to_float_array(value)
        shapes = {a.shape for a in arrays.values()} - {()}
        # One shape (besides scalars), the usual case, needs no broadcasting: a trading step prices a
        # few options at a time, where numpy's general broadcasting costs more than the arithmetic.
        shape = shapes.pop() if len(shapes) == 1 else np.broadcast_shapes(*(a.shape for a in arrays.values()))
        size = int(np.prod(shape, dtype=np.int64))
        values: dict[str, np.ndarray | float] = {}
        for name, array in arrays.items():
            if array.size == 1 and size != 0:
                values[name] = float(array.reshape(-1)[0])
            elif array.shape == shape and array.flags.c_contiguous:
                values[name] = array.reshape(-1)  # what the general way below gives, without its steps
            else:
                values[name] = np.ascontiguousarray(np.broadcast_to(array, shape)).reshape(-1)
        return cls(shape, values)

    def chunk(self, name: str, start: int, stop: int) -> np.ndarray | float:
        value = self.values[name]
        return value if isinstance(value, float) else value[start:stop]

    def full(self, name: str) -> np.ndarray:
        value = self.values[name]
        if isinstance(value, float):
            return np.full(self.size, value)
        return value


def _to_float_array(value: Any) -> np.ndarray:
    """Element-wise float conversion where numpy refuses the whole array (e.g. mixed objects)."""
    array = np.asarray(value, dtype=object)
    out = np.empty(array.shape, dtype=np.float64)
    for index, item in np.ndenumerate(array):
        try:
            out[index] = float(item)
        except (TypeError, ValueError):
            out[index] = math.nan
    return out


def valid_mask(sign, underlying, strike, t, r, q, sigma=None, price=None, positive_t=False):
    """True where the inputs of one option describe a priceable European/American option."""
    ok = (sign == sign) & (underlying > 0.0) & (underlying < math.inf) & (strike > 0.0) & (strike < math.inf)
    ok &= (t > 0.0) if positive_t else (t >= 0.0)
    ok &= (t < math.inf) & (np.abs(r) < math.inf) & (np.abs(q) < math.inf)
    if sigma is not None:
        ok &= (sigma >= 0.0) & (sigma < math.inf)
    if price is not None:
        ok &= (price >= 0.0) & (price < math.inf)
    return np.asarray(ok)

