"""Option prices and Greeks, one option (``GreeksResult``) or a whole chain (``GreeksBatch``).

Units (the same for every model of ``GreeksCalculator``), per one unit of the
underlying, i.e. before any contract multiplier:

- ``price``: option premium in the underlying's price units.
- ``delta``: dV/dU, U the model's underlying (the futures price for Black-76,
  the spot for Black-Scholes and for the American model on spot).
- ``gamma``: d2V/dU2, per unit of U.
- ``vega``: dV/dsigma per 1.00 of volatility (divide by 100 for "per vol point").
- ``theta``: dV/d(calendar time) per year, i.e. -dV/dT with T the time to
  expiry in years (divide by 365 for "per calendar day"); usually negative
  for a long option.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GREEK_NAMES = ("price", "delta", "gamma", "vega", "theta")


@dataclass(frozen=True)
class GreeksResult:
    price: float
    delta: float
    gamma: float
    vega: float
    theta: float

    def __post_init__(self) -> None:
        for name in GREEK_NAMES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise TypeError(f"GreeksResult.{name} must be a real number, got {type(value).__name__}")
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"GreeksResult.{name} must be finite, got {value}")
            object.__setattr__(self, name, value)


@dataclass(frozen=True, eq=False)
class GreeksBatch:
    """Greeks of many options at once: five read-only float64 arrays of one shape.

    An element is NaN in every array where the calculator's inputs were invalid
    for that option (see ``GreeksCalculator.calculate_batch``).
    """

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray

    def __post_init__(self) -> None:
        shape = None
        for name in GREEK_NAMES:
            array = np.asarray(getattr(self, name), dtype=np.float64)
            if shape is None:
                shape = array.shape
            elif array.shape != shape:
                raise ValueError(f"GreeksBatch.{name} has shape {array.shape}, expected {shape}")
            # A read-only view: no copy of a million-element array, and the caller's array keeps its flags.
            array = array.view()
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.price.shape

    def __len__(self) -> int:
        return int(self.price.size)

    def at(self, index: int | tuple[int, ...]) -> GreeksResult:
        """The Greeks of one option (raises ValueError if that option's inputs were invalid)."""
        return GreeksResult(*(float(getattr(self, name)[index]) for name in GREEK_NAMES))

    def valid(self) -> np.ndarray:
        """Boolean mask of the options whose Greeks are all finite."""
        mask = np.isfinite(self.price)
        for name in GREEK_NAMES[1:]:
            mask &= np.isfinite(getattr(self, name))
        return mask

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GreeksBatch):
            return NotImplemented
        return all(np.array_equal(getattr(self, n), getattr(other, n), equal_nan=True) for n in GREEK_NAMES)

    __hash__ = None  # type: ignore[assignment]
