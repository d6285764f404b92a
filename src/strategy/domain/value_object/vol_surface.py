"""Option quotes, chain snapshots and the implied-volatility surface.

Coordinates of the surface: log-moneyness ``k = ln(K / F_T)`` against the
forward of each expiry, and ``T`` in years (ACT/365, see
``trading_calendar.act365_year_fraction``). Vols are annualized decimals
(0.20 = 20 %).

``VolSurface.vol(k, t)`` interpolates bilinearly in (k, T) between grid nodes
and extrapolates flat (the nearest edge value) beyond the grid in either
direction, so it never returns a vol that no quote supports.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np

from src.strategy.domain.value_object.option_contract import OptionType

_OPTION_TYPE_NAMES = {"C": OptionType.CALL, "CALL": OptionType.CALL, "P": OptionType.PUT, "PUT": OptionType.PUT}


def option_type_of(value: OptionType | str) -> OptionType:
    """An ``OptionType`` from itself or from "C"/"P"/"CALL"/"PUT" (any case)."""
    if isinstance(value, OptionType):
        return value
    if isinstance(value, str) and value.strip().upper() in _OPTION_TYPE_NAMES:
        return _OPTION_TYPE_NAMES[value.strip().upper()]
    raise ValueError(f"option type must be CALL/PUT or C/P, got {value!r}")


def option_sign(option_type: OptionType) -> int:
    """+1 for a call, -1 for a put (the w of the pricing formulas)."""
    return 1 if option_type is OptionType.CALL else -1


def _finite_non_negative_or_nan(name: str, value: float) -> float:
    value = float(value)
    if not (math.isnan(value) or (value >= 0.0 and math.isfinite(value))):
        raise ValueError(f"{name} must be a finite non-negative price or NaN (no quote), got {value}")
    return value


@dataclass(frozen=True)
class OptionQuote:
    """One listed option's quote. A bid or ask of 0 or NaN means that side is empty."""

    expiry: datetime
    strike: float
    option_type: OptionType
    bid: float
    ask: float
    last: float = math.nan
    volume: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.expiry, datetime):
            raise TypeError(f"expiry must be a datetime (with the settlement time), got {self.expiry!r}")
        strike = float(self.strike)
        if not (strike > 0.0 and math.isfinite(strike)):
            raise ValueError(f"strike must be positive and finite, got {self.strike}")
        object.__setattr__(self, "strike", strike)
        object.__setattr__(self, "option_type", option_type_of(self.option_type))
        for name in ("bid", "ask", "last"):
            object.__setattr__(self, name, _finite_non_negative_or_nan(name, getattr(self, name)))
        volume = float(self.volume)
        if not (volume >= 0.0 and math.isfinite(volume)):
            raise ValueError(f"volume must be finite and non-negative, got {self.volume}")
        object.__setattr__(self, "volume", volume)
        if self.is_two_sided and self.bid > self.ask:
            raise ValueError(f"crossed quote: bid {self.bid} > ask {self.ask} for {self.option_type} {strike}")

    @property
    def is_two_sided(self) -> bool:
        return self.bid > 0.0 and self.ask > 0.0

    @property
    def mid(self) -> float:
        """Mid price, NaN unless both sides are quoted."""
        return 0.5 * (self.bid + self.ask) if self.is_two_sided else math.nan


@dataclass(frozen=True)
class OptionChainSnapshot:
    """Quotes of one underlying's options at one valuation time.

    ``forward_hints`` maps an option expiry to the price of the futures contract
    that expiry is written on (or that hedges it); the builder falls back to it
    when put-call parity cannot give a forward. ``rate`` is the continuously
    compounded rate used for discounting when parity cannot give a discount factor.
    """

    valuation_time: datetime
    underlying_price: float
    quotes: tuple[OptionQuote, ...]
    forward_hints: Mapping[datetime, float] = field(default_factory=dict)
    rate: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.valuation_time, datetime):
            raise TypeError("valuation_time must be a datetime")
        price = float(self.underlying_price)
        if not (price > 0.0 and math.isfinite(price)):
            raise ValueError(f"underlying_price must be positive and finite, got {self.underlying_price}")
        object.__setattr__(self, "underlying_price", price)
        quotes = tuple(self.quotes)
        for quote in quotes:
            if not isinstance(quote, OptionQuote):
                raise TypeError(f"quotes must be OptionQuote values, got {type(quote).__name__}")
            if (quote.expiry.tzinfo is None) != (self.valuation_time.tzinfo is None):
                raise ValueError("quote expiries and valuation_time must all be naive or all timezone-aware")
        object.__setattr__(self, "quotes", quotes)
        hints = {}
        for expiry, value in dict(self.forward_hints).items():
            value = float(value)
            if not (value > 0.0 and math.isfinite(value)):
                raise ValueError(f"forward hint for {expiry} must be positive and finite, got {value}")
            hints[expiry] = value
        object.__setattr__(self, "forward_hints", MappingProxyType(hints))
        rate = float(self.rate)
        if not math.isfinite(rate):
            raise ValueError(f"rate must be finite, got {self.rate}")
        object.__setattr__(self, "rate", rate)

    def expiries(self) -> tuple[datetime, ...]:
        return tuple(sorted({quote.expiry for quote in self.quotes}))

    def quotes_for(self, expiry: datetime) -> tuple[OptionQuote, ...]:
        return tuple(quote for quote in self.quotes if quote.expiry == expiry)

    def __hash__(self) -> int:
        return hash((self.valuation_time, self.underlying_price, self.quotes, self.rate,
                     tuple(sorted(self.forward_hints.items()))))


def _frozen_array(values, name: str, ndim: int) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {array.shape}")
    array.flags.writeable = False
    return array


def _interpolate_flat(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    return np.interp(x, xp, fp) if xp.size > 1 else np.full(np.shape(x), fp[0])


@dataclass(frozen=True, eq=False)
class Smile:
    """Vols of one expiry against log-moneyness (strictly increasing)."""

    t: float
    forward: float
    log_moneyness: np.ndarray
    vols: np.ndarray

    def __post_init__(self) -> None:
        t, forward = float(self.t), float(self.forward)
        if not (t > 0.0 and math.isfinite(t)):
            raise ValueError(f"smile time must be positive and finite, got {self.t}")
        if not (forward > 0.0 and math.isfinite(forward)):
            raise ValueError(f"smile forward must be positive and finite, got {self.forward}")
        k = _frozen_array(self.log_moneyness, "log_moneyness", 1)
        vols = _frozen_array(self.vols, "vols", 1)
        if k.size == 0 or k.shape != vols.shape:
            raise ValueError("a smile needs as many vols as log-moneyness points, at least one")
        if not np.all(np.isfinite(k)) or np.any(np.diff(k) <= 0.0):
            raise ValueError("log_moneyness must be finite and strictly increasing")
        if not np.all(np.isfinite(vols) & (vols > 0.0)):
            raise ValueError("vols must be positive and finite")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "forward", forward)
        object.__setattr__(self, "log_moneyness", k)
        object.__setattr__(self, "vols", vols)

    @property
    def strikes(self) -> np.ndarray:
        return self.forward * np.exp(self.log_moneyness)

    def vol(self, k) -> np.ndarray | float:
        """Linear in log-moneyness between points, flat beyond the ends."""
        result = _interpolate_flat(np.asarray(k, dtype=np.float64), self.log_moneyness, self.vols)
        return float(result) if np.ndim(result) == 0 else result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Smile):
            return NotImplemented
        return (self.t == other.t and self.forward == other.forward
                and np.array_equal(self.log_moneyness, other.log_moneyness)
                and np.array_equal(self.vols, other.vols))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class TermStructure:
    """At-the-money (k = 0) vols against time to expiry."""

    expiries: np.ndarray
    vols: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "expiries", _frozen_array(self.expiries, "expiries", 1))
        object.__setattr__(self, "vols", _frozen_array(self.vols, "vols", 1))
        if self.expiries.shape != self.vols.shape:
            raise ValueError("a term structure needs one vol per expiry")

    def total_variance(self) -> np.ndarray:
        return self.vols ** 2 * self.expiries

    def forward_vols(self) -> np.ndarray:
        """Vol between consecutive expiries, sqrt(dw/dT); NaN where total variance falls (calendar arbitrage)."""
        w = self.total_variance()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(np.diff(w) / np.diff(self.expiries))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class VolSurface:
    """Implied vols on a grid: ``vols[i, j]`` at time ``expiries[i]`` and log-moneyness ``log_moneyness[j]``.

    ``forwards[i]`` is the forward of expiry i; ``vol_at_strike`` uses the
    forward interpolated log-linearly in T to turn a strike into log-moneyness.
    """

    expiries: np.ndarray
    log_moneyness: np.ndarray
    vols: np.ndarray
    forwards: np.ndarray

    def __post_init__(self) -> None:
        t = _frozen_array(self.expiries, "expiries", 1)
        k = _frozen_array(self.log_moneyness, "log_moneyness", 1)
        vols = _frozen_array(self.vols, "vols", 2)
        forwards = _frozen_array(self.forwards, "forwards", 1)
        if t.size == 0 or k.size == 0:
            raise ValueError("a surface needs at least one expiry and one log-moneyness point")
        if not (np.all(np.isfinite(t)) and np.all(t > 0.0) and np.all(np.diff(t) > 0.0)):
            raise ValueError("expiries must be positive, finite and strictly increasing")
        if not (np.all(np.isfinite(k)) and np.all(np.diff(k) > 0.0)):
            raise ValueError("log_moneyness must be finite and strictly increasing")
        if vols.shape != (t.size, k.size):
            raise ValueError(f"vols must have shape {(t.size, k.size)}, got {vols.shape}")
        if not np.all(np.isfinite(vols) & (vols > 0.0)):
            raise ValueError("vols must be positive and finite")
        if forwards.shape != t.shape or not np.all(np.isfinite(forwards) & (forwards > 0.0)):
            raise ValueError("forwards must be positive and finite, one per expiry")
        for name, value in (("expiries", t), ("log_moneyness", k), ("vols", vols), ("forwards", forwards)):
            object.__setattr__(self, name, value)

    @classmethod
    def from_smiles(cls, smiles: Sequence[Smile]) -> "VolSurface":
        """A grid on the union of the smiles' log-moneyness points.

        Each row holds its own smile's vols at its own points (so the surface
        reproduces every input point exactly) and its linear interpolation,
        flat beyond its ends, at the other smiles' points.
        """
        ordered = sorted(smiles, key=lambda smile: smile.t)
        if not ordered:
            raise ValueError("a surface needs at least one smile")
        times = [smile.t for smile in ordered]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError("smiles must have distinct expiries")
        grid = np.unique(np.concatenate([smile.log_moneyness for smile in ordered]))
        vols = np.vstack([_interpolate_flat(grid, smile.log_moneyness, smile.vols) for smile in ordered])
        return cls(np.array(times), grid, vols, np.array([smile.forward for smile in ordered]))

    def forward(self, t) -> np.ndarray | float:
        """Forward at time t: log-linear in T between expiries, flat beyond."""
        result = np.exp(_interpolate_flat(np.asarray(t, dtype=np.float64), self.expiries, np.log(self.forwards)))
        return float(result) if np.ndim(result) == 0 else result

    def vol(self, k, t) -> np.ndarray | float:
        """Bilinear interpolation in (log-moneyness, T); k and t broadcast together."""
        k, t = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(t, dtype=np.float64))
        row_k = np.clip(k, self.log_moneyness[0], self.log_moneyness[-1])
        row_t = np.clip(t, self.expiries[0], self.expiries[-1])
        j = np.clip(np.searchsorted(self.log_moneyness, row_k, side="right") - 1, 0, max(self.log_moneyness.size - 2, 0))
        i = np.clip(np.searchsorted(self.expiries, row_t, side="right") - 1, 0, max(self.expiries.size - 2, 0))
        j1 = np.minimum(j + 1, self.log_moneyness.size - 1)
        i1 = np.minimum(i + 1, self.expiries.size - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            wk = np.where(j1 > j, (row_k - self.log_moneyness[j]) / (self.log_moneyness[j1] - self.log_moneyness[j]), 0.0)
            wt = np.where(i1 > i, (row_t - self.expiries[i]) / (self.expiries[i1] - self.expiries[i]), 0.0)
        v = self.vols
        result = ((1.0 - wt) * ((1.0 - wk) * v[i, j] + wk * v[i, j1])
                  + wt * ((1.0 - wk) * v[i1, j] + wk * v[i1, j1]))
        return float(result) if result.ndim == 0 else result

    def vol_at_strike(self, strike, t) -> np.ndarray | float:
        strike, t = np.broadcast_arrays(np.asarray(strike, dtype=np.float64), np.asarray(t, dtype=np.float64))
        return self.vol(np.log(strike / self.forward(t)), t)

    def total_variance(self, k, t) -> np.ndarray | float:
        return np.asarray(self.vol(k, t)) ** 2 * np.asarray(t)

    def smile(self, expiry_index: int) -> Smile:
        """The grid row of one expiry."""
        return Smile(self.expiries[expiry_index], self.forwards[expiry_index], self.log_moneyness,
                     self.vols[expiry_index])

    def smile_at(self, t: float) -> Smile:
        """The interpolated smile at time t (on the grid's log-moneyness points)."""
        t = float(t)
        return Smile(t, self.forward(t), self.log_moneyness, np.asarray(self.vol(self.log_moneyness, t)))

    def atm_term_structure(self) -> TermStructure:
        """Vol at k = 0 (at the forward) of every expiry."""
        return TermStructure(self.expiries, np.asarray(self.vol(np.zeros_like(self.expiries), self.expiries)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VolSurface):
            return NotImplemented
        return all(np.array_equal(getattr(self, n), getattr(other, n))
                   for n in ("expiries", "log_moneyness", "vols", "forwards"))

    __hash__ = None  # type: ignore[assignment]
