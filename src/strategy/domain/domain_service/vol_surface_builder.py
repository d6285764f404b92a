"""Builds an implied-volatility surface from one option chain snapshot.

Steps, per expiry (each listed settlement time is its own expiry, so an
AM-settled and a PM-settled option on the same date are two expiries):

1. Time to expiry ``T``: ACT/365 from the snapshot's valuation time to the
   expiry datetime. Expiries with ``T <= 0`` are skipped.
2. Forward ``F`` and discount factor ``D`` from put-call parity: for strikes
   with two-sided call and put quotes, ``C - P = D (F - K)``. The
   ``parity_strikes`` strikes with the smallest ``|C - P|`` (closest to the
   forward, where quotes are tightest) give ``D`` and ``D F`` by least squares.
   A slope that implies an absurd rate (outside ``rate_bounds``) is replaced by
   the snapshot's rate, keeping F from parity. Without usable parity quotes, F
   is the futures price mapped to that expiry in the snapshot's
   ``forward_hints``, and failing that the underlying price carried at the
   snapshot's rate; D is then ``exp(-rate T)``. The source is reported.
3. Bid, mid and ask implied vols of every quote, Black-76 on (F, D). Quotes are
   flagged out-of-the-money (calls with K >= F, puts with K < F); the surface
   and the smile fits use those, since they carry the time value with the least
   noise from the forward.
4. The market surface: per expiry, the out-of-the-money mid vols against
   log-moneyness ``ln(K/F)``, gridded by ``VolSurface.from_smiles`` (bilinear).
5. A raw-SVI fit per expiry, total variance
   ``w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + s^2))``, constrained to
   ``b >= 0, |rho| < 1, s > 0``, minimum variance ``a + b s sqrt(1 - rho^2) >= 0``
   and Roger Lee's wing bound ``b (1 + |rho|) <= 2``: first a least-squares fit
   to the mid vols weighted by the inverse bid/ask vol spread, then a fit that
   penalizes leaving the bid/ask vol band. This is the backbone of the smile.
6. A band-constrained smoothing correction on top of the SVI backbone (on by
   default, ``correct_smile``): a cubic B-spline ``c`` in the normalized
   log-moneyness ``z = k / (sigma_atm sqrt T)``, with interior knots at every
   ``correction_knot_every``-th quote, added to the SVI total variance. It
   minimizes ``mean(((w_svi + c - w_mid) / spread)^2) + lambda int (c''(z) / w_atm)^2 dz``
   subject to each quote's bid/ask total-variance band (an exact L1 penalty
   on leaving the band, so quotes no smooth curve can reach are given up
   instead of bending the smile), solved as a quadratic program by ADMM.
   Where Gatheral's ``g(k)`` of the result falls below a small floor, that
   condition is linearized and added the same way, and the problem solved
   again. Five SVI parameters cannot follow a short-dated index smile to
   within its bid/ask band; the correction supplies the local shape, SVI the
   global shape and the wings.
7. An arbitrage report on the fitted smiles (SVI plus correction): butterfly
   arbitrage where Gatheral's density function ``g(k)`` is negative inside an
   expiry's quoted range, and calendar arbitrage where total variance decreases
   from one expiry to the next at the same k (inside both expiries' quoted
   ranges). Violations are reported, not repaired.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Sequence

import numpy as np
from scipy.interpolate import BSpline
from scipy.optimize import least_squares, minimize

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.value_object.trading_calendar import act365_year_fraction
from src.strategy.domain.value_object.vol_surface import (
    OptionChainSnapshot,
    OptionQuote,
    OptionType,
    Smile,
    VolSurface,
    option_sign,
)

# --------------------------------------------------------------------------- result values


@dataclass(frozen=True)
class ForwardEstimate:
    expiry: datetime
    t: float
    forward: float
    discount: float
    source: str              # "parity", "parity+rate", "futures" or "carry"
    parity_strikes: int

    @property
    def rate(self) -> float:
        return -math.log(self.discount) / self.t


@dataclass(frozen=True)
class QuoteVol:
    """Implied vols of one quote (NaN where a side is empty or no vol reproduces it)."""

    quote: OptionQuote
    t: float
    forward: float
    log_moneyness: float
    iv_bid: float
    iv_mid: float
    iv_ask: float
    out_of_the_money: bool

    def band_contains(self, vol: float) -> bool:
        """Whether ``vol`` prices this two-sided quote inside its bid/ask (False for a one-sided quote).

        That is bid IV <= vol <= ask IV, where a bid at or below the option's
        lowest value (discounted intrinsic, so no bid IV) bounds nothing from
        below, and an ask at or below it (no ask IV) admits no vol at all. In
        price terms: bid <= Black-76 price at ``vol`` <= ask.
        """
        if not self.quote.is_two_sided or not math.isfinite(self.iv_ask):
            return False
        return (math.isnan(self.iv_bid) or vol >= self.iv_bid) and vol <= self.iv_ask


@dataclass(frozen=True)
class SviParameters:
    """Raw SVI total variance w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def __post_init__(self) -> None:
        values = (self.a, self.b, self.rho, self.m, self.sigma)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"SVI parameters must be finite, got {values}")
        if self.b < 0.0 or not -1.0 < self.rho < 1.0 or self.sigma <= 0.0:
            raise ValueError(f"SVI needs b >= 0, |rho| < 1, sigma > 0, got {values}")
        if self.a + self.b * self.sigma * math.sqrt(1.0 - self.rho ** 2) < -1e-12:
            raise ValueError(f"SVI minimum total variance is negative for {values}")

    def total_variance(self, k) -> np.ndarray:
        x = np.asarray(k, dtype=np.float64) - self.m
        return self.a + self.b * (self.rho * x + np.sqrt(x * x + self.sigma ** 2))

    def implied_vol(self, k, t: float) -> np.ndarray:
        return np.sqrt(np.maximum(self.total_variance(k), 0.0) / t)

    def derivatives(self, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """w(k), w'(k) and w''(k)."""
        k = np.asarray(k, dtype=np.float64)
        x = k - self.m
        root = np.sqrt(x * x + self.sigma ** 2)
        w = self.a + self.b * (self.rho * x + root)
        return w, self.b * (self.rho + x / root), self.b * self.sigma ** 2 / root ** 3

    def density_function(self, k) -> np.ndarray:
        """Gatheral's g(k); the risk-neutral density is proportional to it, so g < 0 is butterfly arbitrage."""
        return gatheral_density(k, *self.derivatives(k))


def gatheral_density(k, w, w1, w2) -> np.ndarray:
    """Gatheral's g(k) = (1 - k w'/(2w))^2 - w'^2/4 (1/w + 1/4) + w''/2 from total variance and its derivatives."""
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (1.0 - k * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2


@dataclass(frozen=True, eq=False)
class SmileCorrection:
    """A cubic B-spline correction ``c(k)`` to an SVI total variance, fitted per expiry.

    The spline lives in the normalized log-moneyness ``z = k / scale`` (``scale``
    is the ATM standard deviation ``sigma_atm sqrt T``) on the full knot vector
    ``knots`` (clamped: four copies of each end). Inside the quoted range
    ``[k_min, k_max]`` it is the spline, so twice continuously differentiable;
    beyond it continues linearly with the value and slope at the end (C1, no
    curvature), so it neither oscillates nor turns back in the wings.
    """

    knots: np.ndarray
    coefficients: np.ndarray
    scale: float

    def __post_init__(self) -> None:
        knots = np.array(self.knots, dtype=np.float64)
        coefficients = np.array(self.coefficients, dtype=np.float64)
        scale = float(self.scale)
        if not (scale > 0.0 and math.isfinite(scale)):
            raise ValueError(f"correction scale must be positive and finite, got {self.scale}")
        if knots.ndim != 1 or coefficients.ndim != 1 or knots.size != coefficients.size + 4:
            raise ValueError("a cubic spline needs len(knots) == len(coefficients) + 4")
        if not (np.all(np.isfinite(knots)) and np.all(np.isfinite(coefficients))):
            raise ValueError("correction knots and coefficients must be finite")
        if np.any(np.diff(knots) < 0.0) or not knots[-1] > knots[0]:
            raise ValueError("correction knots must be non-decreasing and span a range")
        for array in (knots, coefficients):
            array.flags.writeable = False
        object.__setattr__(self, "knots", knots)
        object.__setattr__(self, "coefficients", coefficients)
        object.__setattr__(self, "scale", scale)
        spline = BSpline(knots, coefficients, 3, extrapolate=True)
        object.__setattr__(self, "_splines", (spline, spline.derivative(1), spline.derivative(2)))

    @property
    def k_min(self) -> float:
        return float(self.knots[0] * self.scale)

    @property
    def k_max(self) -> float:
        return float(self.knots[-1] * self.scale)

    def interior_knots(self) -> np.ndarray:
        """Distinct knots strictly inside the range, in log-moneyness."""
        inner = np.unique(self.knots[4:-4])
        return inner * self.scale

    def derivatives(self, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """c(k), c'(k) and c''(k) (derivatives in log-moneyness)."""
        z = np.asarray(k, dtype=np.float64) / self.scale
        spline, first, second = self._splines
        lo, hi = self.knots[0], self.knots[-1]
        zc = np.clip(z, lo, hi)
        value, slope, curvature = spline(zc), first(zc), second(zc)
        outside = (z < lo) | (z > hi)
        value = np.where(outside, value + slope * (z - zc), value)
        curvature = np.where(outside, 0.0, curvature)
        return value, slope / self.scale, curvature / self.scale ** 2

    def total_variance(self, k) -> np.ndarray:
        """c(k)."""
        z = np.asarray(k, dtype=np.float64) / self.scale
        spline, first, _ = self._splines
        zc = np.clip(z, self.knots[0], self.knots[-1])
        value = spline(zc)
        outside = z != zc
        if np.any(outside):
            value = np.where(outside, value + first(zc) * (z - zc), value)
        return value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SmileCorrection):
            return NotImplemented
        return (self.scale == other.scale and np.array_equal(self.knots, other.knots)
                and np.array_equal(self.coefficients, other.coefficients))

    def __hash__(self) -> int:
        return hash((self.scale, self.knots.tobytes(), self.coefficients.tobytes()))


@dataclass(frozen=True)
class SviFit:
    """The fitted smile of one expiry: the raw-SVI backbone ``parameters`` plus an optional ``correction``.

    ``total_variance``, ``derivatives``, ``implied_vol`` and ``density_function``
    are those of the fitted smile (SVI plus correction); ``svi_implied_vol`` is
    the SVI backbone alone. The statistics are over the ``quotes_used`` quotes in ``[k_min, k_max]``;
    the ``svi_`` ones are of the backbone alone on the same quotes.
    """

    expiry: datetime
    t: float
    forward: float
    parameters: SviParameters
    quotes_used: int
    rmse_vol: float            # root-mean-square of (fitted vol - mid vol) over the quotes used
    banded_quotes: int         # quotes used that have both a bid and an ask vol
    inside_bid_ask: int        # of those, the ones whose bid vol <= fitted vol <= ask vol
    k_min: float               # fitted log-moneyness range
    k_max: float
    correction: SmileCorrection | None = None
    svi_rmse_vol: float | None = None       # the same for the SVI backbone alone (defaults: the fitted ones)
    svi_inside_bid_ask: int | None = None

    def __post_init__(self) -> None:
        if self.svi_rmse_vol is None:
            object.__setattr__(self, "svi_rmse_vol", self.rmse_vol if self.correction is None else math.nan)
        if self.svi_inside_bid_ask is None and self.correction is None:
            object.__setattr__(self, "svi_inside_bid_ask", self.inside_bid_ask)

    def derivatives(self, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Total variance w(k) of the fitted smile and its first two derivatives in k."""
        w, w1, w2 = self.parameters.derivatives(k)
        if self.correction is not None:
            c, c1, c2 = self.correction.derivatives(k)
            w, w1, w2 = w + c, w1 + c1, w2 + c2
        return w, w1, w2

    def total_variance(self, k) -> np.ndarray:
        w = self.parameters.total_variance(k)
        if self.correction is not None:
            w = w + self.correction.total_variance(k)
        return w

    def implied_vol(self, k) -> np.ndarray:
        """Vol of the fitted smile (SVI plus correction)."""
        return np.sqrt(np.maximum(self.total_variance(k), 0.0) / self.t)

    def svi_implied_vol(self, k) -> np.ndarray:
        """Vol of the SVI backbone alone."""
        return self.parameters.implied_vol(k, self.t)

    def density_function(self, k) -> np.ndarray:
        """Gatheral's g(k) of the fitted smile."""
        return gatheral_density(k, *self.derivatives(k))


@dataclass(frozen=True)
class ButterflyViolation:
    expiry: datetime
    k_from: float
    k_to: float
    min_g: float


@dataclass(frozen=True)
class CalendarViolation:
    near_expiry: datetime
    far_expiry: datetime
    k: float                    # where the decrease is largest
    near_total_variance: float
    far_total_variance: float
    points: int                 # grid points of the shared range that decrease


@dataclass(frozen=True)
class ArbitrageReport:
    butterfly: tuple[ButterflyViolation, ...]
    calendar: tuple[CalendarViolation, ...]
    expiries_checked: int

    @property
    def is_free(self) -> bool:
        return not self.butterfly and not self.calendar

    def summary(self) -> str:
        lines = [f"{self.expiries_checked} expiries checked: {len(self.butterfly)} butterfly and "
                 f"{len(self.calendar)} calendar violations"]
        for v in self.butterfly:
            lines.append(f"  butterfly {v.expiry:%Y-%m-%d %H:%M}: g(k) < 0 for k in [{v.k_from:+.3f}, {v.k_to:+.3f}],"
                         f" min g = {v.min_g:.3g}")
        for v in self.calendar:
            lines.append(f"  calendar {v.near_expiry:%Y-%m-%d %H:%M} -> {v.far_expiry:%Y-%m-%d %H:%M}: total variance"
                         f" falls at {v.points} points, worst at k = {v.k:+.3f}"
                         f" ({v.near_total_variance:.6f} -> {v.far_total_variance:.6f})")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class VolSurfaceBuild:
    valuation_time: datetime
    forwards: tuple[ForwardEstimate, ...]
    quotes: tuple[QuoteVol, ...]
    surface: VolSurface | None
    svi: tuple[SviFit, ...]
    arbitrage: ArbitrageReport

    def svi_for(self, expiry: datetime) -> SviFit | None:
        return next((fit for fit in self.svi if fit.expiry == expiry), None)

    def svi_surface(self, log_moneyness: Sequence[float]) -> VolSurface:
        """A surface of the fitted smiles (SVI plus correction) on the given log-moneyness grid."""
        k = np.asarray(log_moneyness, dtype=np.float64)
        fits = sorted(self.svi, key=lambda fit: fit.t)
        return VolSurface(np.array([f.t for f in fits]), k, np.vstack([f.implied_vol(k) for f in fits]),
                          np.array([f.forward for f in fits]))


# --------------------------------------------------------------------------- builder


class VolSurfaceBuilder:
    """Forwards, implied vols, the market surface and per-expiry smile fits of a chain snapshot.

    ``svi_window_std``: fit the SVI backbone only to quotes within that many ATM
    standard deviations (``|k| <= n sigma_atm sqrt T``); None (the default) fits
    it to every out-of-the-money quote, which gives the correction the least to
    do in the wings. ``correct_smile``: add the band-constrained spline
    correction (step 6 of the module notes) over every out-of-the-money quote;
    without it the fitted smile is the SVI backbone alone, over its fit window.
    ``correction_smoothing`` is the weight ``lambda`` of the curvature penalty,
    ``correction_knot_every`` the number of quotes per interior knot.
    """

    def __init__(self, *, parity_strikes: int = 6, rate_bounds: tuple[float, float] = (-0.05, 0.25),
                 fit_svi: bool = True, svi_window_std: float | None = None, min_svi_quotes: int = 5,
                 arbitrage_grid_points: int = 201, correct_smile: bool = True, correction_smoothing: float = 0.5,
                 correction_knot_every: int = 3):
        if parity_strikes < 2:
            raise ValueError("parity_strikes must be at least 2")
        if rate_bounds[0] >= rate_bounds[1]:
            raise ValueError("rate_bounds must be (low, high) with low < high")
        self.parity_strikes = parity_strikes
        self.rate_bounds = rate_bounds
        self.fit_svi = fit_svi
        if svi_window_std is not None and not svi_window_std > 0.0:
            raise ValueError("svi_window_std must be positive or None (fit every quote)")
        self.svi_window_std = svi_window_std
        self.min_svi_quotes = max(min_svi_quotes, 5)
        self.arbitrage_grid_points = arbitrage_grid_points
        if not (correction_smoothing > 0.0 and math.isfinite(correction_smoothing)):
            raise ValueError("correction_smoothing must be positive and finite")
        if int(correction_knot_every) < 1:
            raise ValueError("correction_knot_every must be at least 1")
        self.correct_smile = correct_smile
        self.correction_smoothing = float(correction_smoothing)
        self.correction_knot_every = int(correction_knot_every)
        self._black = GreeksCalculator("black76")

    # ---------------------------------------------------------------- public

    def build(self, snapshot: OptionChainSnapshot) -> VolSurfaceBuild:
        forwards: list[ForwardEstimate] = []
        quote_vols: list[QuoteVol] = []
        smiles: list[Smile] = []
        fits: list[SviFit] = []
        for expiry in snapshot.expiries():
            t = act365_year_fraction(snapshot.valuation_time, expiry)
            if not t > 0.0:
                continue
            quotes = snapshot.quotes_for(expiry)
            estimate = self.estimate_forward(snapshot, expiry, t, quotes)
            forwards.append(estimate)
            vols = self.quote_vols(quotes, estimate)
            quote_vols.extend(vols)
            smile = self._otm_smile(vols, estimate)
            if smile is not None:
                smiles.append(smile)
            if self.fit_svi:
                fit = self.fit_expiry(vols, estimate)
                if fit is not None:
                    fits.append(fit)
        surface = VolSurface.from_smiles(smiles) if smiles else None
        report = self.arbitrage_report(fits)
        return VolSurfaceBuild(snapshot.valuation_time, tuple(forwards), tuple(quote_vols), surface,
                               tuple(fits), report)

    def estimate_forward(self, snapshot: OptionChainSnapshot, expiry: datetime, t: float,
                         quotes: Sequence[OptionQuote]) -> ForwardEstimate:
        calls = {q.strike: q.mid for q in quotes if q.option_type is OptionType.CALL and q.is_two_sided}
        puts = {q.strike: q.mid for q in quotes if q.option_type is OptionType.PUT and q.is_two_sided}
        strikes = np.array(sorted(set(calls) & set(puts)))
        fallback_discount = math.exp(-snapshot.rate * t)
        if strikes.size >= 1:
            spread = np.array([calls[k] - puts[k] for k in strikes])
            nearest = np.argsort(np.abs(spread), kind="stable")[: self.parity_strikes]
            k_used, y_used = strikes[nearest], spread[nearest]
            if k_used.size >= 2 and np.ptp(k_used) > 0.0:
                slope, intercept = np.polyfit(k_used, y_used, 1)
                discount = -slope
                if discount > 0.0:
                    rate = -math.log(discount) / t
                    forward = intercept / discount
                    if self.rate_bounds[0] <= rate <= self.rate_bounds[1] and forward > 0.0:
                        return ForwardEstimate(expiry, t, float(forward), float(discount), "parity", int(k_used.size))
            # keep F from parity (it is well determined near the money), take D from the rate
            forward = float(np.median(k_used + y_used / fallback_discount))
            if forward > 0.0:
                return ForwardEstimate(expiry, t, forward, fallback_discount, "parity+rate", int(k_used.size))
        hint = snapshot.forward_hints.get(expiry)
        if hint is not None:
            return ForwardEstimate(expiry, t, float(hint), fallback_discount, "futures", 0)
        carried = snapshot.underlying_price * math.exp(snapshot.rate * t)
        return ForwardEstimate(expiry, t, carried, fallback_discount, "carry", 0)

    def quote_vols(self, quotes: Sequence[OptionQuote], estimate: ForwardEstimate) -> list[QuoteVol]:
        if not quotes:
            return []
        strikes = np.array([q.strike for q in quotes])
        signs = np.array([option_sign(q.option_type) for q in quotes], dtype=np.float64)
        prices = np.array([[q.bid if q.bid > 0 else np.nan for q in quotes],
                           [q.mid for q in quotes],
                           [q.ask if q.ask > 0 else np.nan for q in quotes]])
        vols = self._black.implied_volatility_batch(prices, signs, estimate.forward, strikes, estimate.t,
                                                    estimate.rate)
        k = np.log(strikes / estimate.forward)
        otm = np.where(signs > 0, strikes >= estimate.forward, strikes < estimate.forward)
        return [QuoteVol(q, estimate.t, estimate.forward, float(k[i]), float(vols[0, i]), float(vols[1, i]),
                         float(vols[2, i]), bool(otm[i]))
                for i, q in enumerate(quotes)]

    def fit_expiry(self, vols: Sequence[QuoteVol], estimate: ForwardEstimate) -> SviFit | None:
        """The fitted smile of one expiry's out-of-the-money quotes (None with too few usable quotes).

        The raw-SVI backbone is fitted to the quotes within ``svi_window_std``
        ATM standard deviations (all of them when None); the correction, when
        on, to every usable quote, and the fit's range and statistics are then
        over every usable quote. One quote per strike (the first, in strike order).
        """
        usable = [v for v in vols if v.out_of_the_money and np.isfinite(v.iv_mid) and v.iv_mid > 0.0]
        if len(usable) < self.min_svi_quotes:
            return None
        usable.sort(key=lambda v: v.log_moneyness)
        k = np.array([v.log_moneyness for v in usable])
        distinct = np.concatenate([[True], np.diff(k) > 0.0])
        usable = [v for v, keep in zip(usable, distinct) if keep]
        if len(usable) < self.min_svi_quotes:
            return None
        k = k[distinct]
        mid = np.array([v.iv_mid for v in usable])
        bid = np.array([v.iv_bid for v in usable])
        ask = np.array([v.iv_ask for v in usable])
        t = estimate.t
        window = np.ones(k.size, dtype=bool)
        if self.svi_window_std is not None:
            atm_vol = float(np.interp(0.0, k, mid))
            inside_window = np.abs(k) <= self.svi_window_std * atm_vol * math.sqrt(t)
            if inside_window.sum() >= self.min_svi_quotes:
                window = inside_window
        params = _fit_svi(k[window], mid[window], bid[window], ask[window], t)
        if params is None:
            return None
        correction = None
        if self.correct_smile:
            correction = _fit_correction(k, mid, bid, ask, t, params, self.correction_smoothing,
                                         self.correction_knot_every, self.arbitrage_grid_points)
        used = np.ones(k.size, dtype=bool) if correction is not None else window
        k, mid, bid, ask = k[used], mid[used], bid[used], ask[used]
        banded = np.isfinite(bid) & np.isfinite(ask)
        fit = SviFit(estimate.expiry, t, estimate.forward, params, int(k.size), 0.0, int(banded.sum()), 0,
                     float(k[0]), float(k[-1]), correction)
        statistics = {}
        for prefix, model in (("", fit.implied_vol(k)), ("svi_", fit.svi_implied_vol(k))):
            statistics[prefix + "rmse_vol"] = float(np.sqrt(np.mean((model - mid) ** 2)))
            statistics[prefix + "inside_bid_ask"] = int(np.sum(banded & (model >= bid) & (model <= ask)))
        return replace(fit, **statistics)

    def arbitrage_report(self, fits: Sequence[SviFit]) -> ArbitrageReport:
        """Butterfly and calendar arbitrage of the fitted smiles (SVI plus correction) inside their ranges.

        The butterfly grid has ``arbitrage_grid_points`` points plus, for a
        corrected smile, every knot of the correction and the midpoints between
        knots, so a dip between two knots is not stepped over.
        """
        butterfly: list[ButterflyViolation] = []
        calendar: list[CalendarViolation] = []
        ordered = sorted(fits, key=lambda fit: fit.t)
        for fit in ordered:
            knots = fit.correction.interior_knots() if fit.correction is not None else ()
            grid = _arbitrage_grid(fit.k_min, fit.k_max, self.arbitrage_grid_points, knots)
            g = fit.density_function(grid)
            negative = g < 0.0
            for start, stop in _runs(negative):
                butterfly.append(ButterflyViolation(fit.expiry, float(grid[start]), float(grid[stop - 1]),
                                                    float(g[start:stop].min())))
        for near, far in zip(ordered, ordered[1:]):
            low, high = max(near.k_min, far.k_min), min(near.k_max, far.k_max)
            if not high > low:
                continue
            grid = np.linspace(low, high, self.arbitrage_grid_points)
            w_near = near.total_variance(grid)
            w_far = far.total_variance(grid)
            drop = w_near - w_far
            # a decrease smaller than the rounding of the fits is not a violation
            falling = drop > 1e-9 * np.maximum(w_near, 1e-12)
            if falling.any():
                worst = int(np.argmax(drop))
                calendar.append(CalendarViolation(near.expiry, far.expiry, float(grid[worst]), float(w_near[worst]),
                                                  float(w_far[worst]), int(falling.sum())))
        return ArbitrageReport(tuple(butterfly), tuple(calendar), len(ordered))

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _otm_smile(vols: Sequence[QuoteVol], estimate: ForwardEstimate) -> Smile | None:
        points = sorted((v.log_moneyness, v.iv_mid) for v in vols
                        if v.out_of_the_money and np.isfinite(v.iv_mid) and v.iv_mid > 0.0)
        if not points:
            return None
        k = np.array([p[0] for p in points])
        iv = np.array([p[1] for p in points])
        keep = np.concatenate([[True], np.diff(k) > 0.0])  # one quote per strike
        return Smile(estimate.t, estimate.forward, k[keep], iv[keep])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where mask is True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


# --------------------------------------------------------------------------- SVI fitting

_RHO_LIMIT = 0.999


def _svi_from_vector(z: np.ndarray) -> tuple[float, float, float, float, float]:
    """Box-bounded unknowns (v_min, lee, rho, m, sigma) -> raw SVI (a, b, rho, m, sigma).

    ``v_min >= 0`` is the minimum total variance a + b sigma sqrt(1 - rho^2) and
    ``lee`` in [0, 1] is b (1 + |rho|) / 2, so the constraints are plain bounds.
    """
    v_min, lee, rho, m, sigma = (float(x) for x in z)
    b = 2.0 * lee / (1.0 + abs(rho))
    a = v_min - b * sigma * math.sqrt(1.0 - rho * rho)
    return a, b, rho, m, sigma


def _svi_vol(z: np.ndarray, k: np.ndarray, t: float) -> np.ndarray:
    a, b, rho, m, sigma = _svi_from_vector(z)
    x = k - m
    w = a + b * (rho * x + np.sqrt(x * x + sigma * sigma))
    return np.sqrt(np.maximum(w, 1e-16) / t)


def _quasi_explicit_fit(k: np.ndarray, w: np.ndarray, weight: np.ndarray, m: float, sigma: float):
    """Best (a, b, rho) for fixed (m, sigma) by bounded linear least squares (Zeliade's quasi-explicit SVI).

    With y = (k - m)/sigma and s = sqrt(y^2 + 1), w = a + u (s + y)/2 + v (s - y)/2 where
    u = b sigma (1 + rho) and v = b sigma (1 - rho); b >= 0, |rho| <= 1 and Lee's
    b (1 + |rho|) <= 2 are exactly 0 <= u, v <= 2 sigma; the intercept is bounded by
    |a| <= max w. Returns (cost, a, b, rho).

    Solved exactly in closed form: with a free, it is eliminated by weighted centring,
    leaving least squares in (u, v) on a box (``_box_least_squares_2d``); if that a
    breaks its bound, the minimum of this convex problem has a on that bound, and the
    same two-variable problem is solved with a fixed there.
    """
    y = (k - m) / sigma
    s = np.sqrt(y * y + 1.0)
    one = weight
    p = 0.5 * (s + y) * weight
    q = 0.5 * (s - y) * weight
    target = w * weight
    cap = 2.0 * sigma
    norm = float(one @ one)
    mean_p, mean_q, mean_t = float(one @ p) / norm, float(one @ q) / norm, float(one @ target) / norm
    pc, qc, tc = p - mean_p * one, q - mean_q * one, target - mean_t * one
    residual_cost, u, v = _box_least_squares_2d(float(pc @ pc), float(pc @ qc), float(qc @ qc), float(pc @ tc),
                                                float(qc @ tc), float(tc @ tc), cap)
    a = mean_t - u * mean_p - v * mean_q
    top = float(w.max())
    if abs(a) > top:
        a = math.copysign(top, a)
        rest = target - a * one
        residual_cost, u, v = _box_least_squares_2d(float(p @ p), float(p @ q), float(q @ q), float(p @ rest),
                                                    float(q @ rest), float(rest @ rest), cap)
    b = (u + v) / (2.0 * sigma)
    rho = (u - v) / (u + v) if u + v > 0.0 else 0.0
    return residual_cost, float(a), b, float(np.clip(rho, -_RHO_LIMIT, _RHO_LIMIT))


def _box_least_squares_2d(gpp: float, gpq: float, gqq: float, hp: float, hq: float, cc: float,
                          cap: float) -> tuple[float, float, float]:
    """min over 0 <= u, v <= cap of 1/2 (x'Gx - 2 h'x + cc), x = (u, v), G positive semi-definite.

    The minimum is the unconstrained one when that is inside the box; otherwise it is on
    an edge, where it is the clipped minimum of a one-variable quadratic (corners
    included). Returns (cost, u, v).
    """
    def cost(u: float, v: float) -> float:
        return max(0.5 * (gpp * u * u + 2.0 * gpq * u * v + gqq * v * v) - hp * u - hq * v + 0.5 * cc, 0.0)

    det = gpp * gqq - gpq * gpq
    if det > 1e-12 * gpp * gqq:
        u, v = (hp * gqq - hq * gpq) / det, (hq * gpp - hp * gpq) / det
        if 0.0 <= u <= cap and 0.0 <= v <= cap:
            return cost(u, v), u, v
    candidates = []
    for u in (0.0, cap):
        candidates.append((u, min(max((hq - gpq * u) / gqq, 0.0), cap) if gqq > 0.0 else 0.0))
    for v in (0.0, cap):
        candidates.append((min(max((hp - gpq * v) / gpp, 0.0), cap) if gpp > 0.0 else 0.0, v))
    u, v = min(candidates, key=lambda uv: cost(*uv))
    return cost(u, v), u, v


def _vector_from_svi(a: float, b: float, rho: float, m: float, sigma: float) -> np.ndarray:
    rho = float(np.clip(rho, -_RHO_LIMIT, _RHO_LIMIT))
    v_min = max(a + b * sigma * math.sqrt(1.0 - rho * rho), 0.0)
    lee = min(b * (1.0 + abs(rho)) / 2.0, 1.0)
    return np.array([v_min, lee, rho, m, sigma])


# Robust scale of the band misses, in units of the quote's bid/ask vol spread: a miss much larger
# than this costs about the same as a small one, so the fit keeps as many quotes inside as it can
# instead of spreading a shape error over all of them.
_BAND_LOSS_SCALE = 0.1


def _fit_svi(k: np.ndarray, mid: np.ndarray, bid: np.ndarray, ask: np.ndarray, t: float) -> SviParameters | None:
    spread = np.where(np.isfinite(bid) & np.isfinite(ask), ask - bid, np.nan)
    typical = float(np.nanmedian(spread)) if np.isfinite(spread).any() else 0.01
    # weights: inverse bid/ask vol spread, floored so that one very tight quote cannot dominate
    scale = np.where(np.isfinite(spread), np.maximum(spread, 0.25 * typical), 4.0 * typical)
    scale = np.maximum(scale, 1e-4)
    w_mid = mid * mid * t
    # a vol error d(sigma) is a total-variance error 2 sigma t d(sigma)
    w_weight = 1.0 / (2.0 * mid * t * scale)
    span = max(float(k[-1] - k[0]), 0.05)

    # Stage 1: quasi-explicit weighted fit to the mids over (m, sigma): a coarse grid, then Nelder-Mead.
    def outer(z):
        return _quasi_explicit_fit(k, w_mid, w_weight, z[0], math.exp(z[1]))[0]

    grid = [(outer((m0, ls0)), m0, ls0)
            for m0 in np.linspace(k[0], k[-1], 9)
            for ls0 in np.linspace(math.log(0.005 * span), math.log(2.0 * span), 6)]
    grid.sort()
    lower = np.array([0.0, 0.0, -_RHO_LIMIT, k[0] - span, 1e-5])
    upper = np.array([max(float(w_mid.max()), 1e-8), 1.0, _RHO_LIMIT, k[-1] + span, 4.0 * span + 1.0])
    starts = []
    for _, m0, ls0 in grid[:3]:
        result = minimize(outer, np.array([m0, ls0]), method="Nelder-Mead",
                          options={"xatol": 1e-6, "fatol": 1e-12, "maxiter": 300})
        m, sigma = float(result.x[0]), math.exp(float(result.x[1]))
        _, a, b, rho = _quasi_explicit_fit(k, w_mid, w_weight, m, sigma)
        starts.append((result.fun, np.clip(_vector_from_svi(a, b, rho, m, sigma), lower, upper)))
    starts.sort(key=lambda item: item[0])

    # Stage 2: all five parameters under the exact constraints, keeping the vols inside the bid/ask band,
    # from each distinct stage-1 solution (the band objective has local minima).
    banded = np.isfinite(bid) & np.isfinite(ask)
    z = starts[0][1]
    if banded.sum() >= 5:
        def residuals(x):
            model = _svi_vol(x, k, t)
            outside = np.where(banded, np.maximum(model - ask, 0.0) + np.maximum(bid - model, 0.0), 0.0)
            # a small pull to the mids keeps the solution unique when everything is inside
            return np.concatenate([outside / scale, 0.01 * (model - mid) / scale])

        best = None
        tried: list[np.ndarray] = []
        for _, start in starts:
            if any(np.allclose(start, other, rtol=1e-3, atol=1e-6) for other in tried):
                continue
            tried.append(start)
            try:
                result = least_squares(residuals, start, bounds=(lower, upper), method="trf", loss="arctan",
                                       f_scale=_BAND_LOSS_SCALE, max_nfev=300)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if best is None or result.cost < best.cost:
                best = result
        if best is not None:
            z = best.x
    a, b, rho, m, sigma = _svi_from_vector(z)
    try:
        return SviParameters(a, b, rho, m, sigma)
    except ValueError:
        return None


# --------------------------------------------------------------------------- band-constrained smile correction

# Each band is narrowed by this share of its width on both sides for the fit, so that a solution that
# meets the narrowed band to the solver's tolerance is strictly inside the quoted one.
_BAND_MARGIN = 0.05
# Weight of the exact (L1) penalty on leaving a band, per quote, against the mean squared distance to the mids
# in spread units: far above the mid-pull, so every quote that a smooth curve can reach ends up inside.
_BAND_PENALTY = 5000.0
# The correction is kept butterfly-free by linearizing g(k) >= _DENSITY_FLOOR where it is violated, for at
# most _DENSITY_ROUNDS re-solves; a shortfall of _DENSITY_UNIT in g costs as much as one spread outside a band.
_DENSITY_FLOOR = 1e-3
_DENSITY_UNIT = 0.05
_DENSITY_ROUNDS = 6


def _fit_correction(k: np.ndarray, mid: np.ndarray, bid: np.ndarray, ask: np.ndarray, t: float,
                    params: SviParameters, smoothing: float, knot_every: int,
                    grid_points: int = 201) -> SmileCorrection | None:
    """The band-constrained smoothing spline added to the SVI total variance (k sorted, distinct).

    Unknowns: the coefficients x of a clamped cubic B-spline c(z) in z = k / (sigma_atm sqrt T), interior
    knots at every ``knot_every``-th quote. With u_i the quote's total-variance spread (floored at a quarter
    of the median), it minimizes

        (1/n) sum ((w_svi + c - w_mid) / u)_i^2  +  smoothing * int (c''(z) / w_atm)^2 dz
        + (_BAND_PENALTY / n) sum dist((w_svi + c)_i / u_i, band_i / u_i)

    where band_i is the quote's [bid, ask] total-variance band narrowed by ``_BAND_MARGIN`` of its width on
    each side (open on a side without a vol). The curvature term is exact (Gauss-Legendre on each knot
    interval), and since the smile is cubic between knots spaced several quotes apart, it cannot pass
    through every mid. The mids only break ties inside the bands: the penalty on leaving a band is
    exact (L1), so a quote is given up only when keeping it would cost more curvature or arbitrage
    than it is worth. Butterfly guard: where Gatheral's g(k) of the corrected smile falls below
    ``_DENSITY_FLOOR`` on the arbitrage grid, the condition is linearized in x and added with the same
    kind of penalty, and the problem solved again (at most ``_DENSITY_ROUNDS`` times); the arbitrage
    report still checks the final smile. Returns None when there are too few quotes.
    """
    n = k.size
    if n < 5:
        return None
    atm_vol = float(np.interp(0.0, k, mid))
    if not atm_vol > 0.0:
        return None
    scale = atm_vol * math.sqrt(t)
    w_atm = atm_vol * atm_vol * t
    z = k / scale
    w_svi = params.total_variance(k)
    w_mid = mid * mid * t
    has_bid, has_ask = np.isfinite(bid), np.isfinite(ask)
    w_bid = np.where(has_bid, np.where(has_bid, bid, 0.0) ** 2 * t, -np.inf)
    w_ask = np.where(has_ask, np.where(has_ask, ask, 0.0) ** 2 * t, np.inf)
    banded = has_bid & has_ask
    spread = np.where(banded, w_ask - w_bid, np.nan)
    typical = float(np.nanmedian(spread)) if banded.any() else 0.01 * w_atm
    typical = max(typical, 1e-12 * w_atm, 1e-300)
    unit = np.where(banded, np.maximum(np.where(banded, spread, 0.0), 0.25 * typical), 4.0 * typical)
    margin = np.where(banded, _BAND_MARGIN * np.where(banded, spread, 0.0), 0.0)
    with np.errstate(invalid="ignore"):
        lower = (w_bid + margin - w_svi) / unit
        upper = (w_ask - margin - w_svi) / unit

    knots = _clamped_knots(z, knot_every)
    count = knots.size - 4
    basis = BSpline(knots, np.eye(count), 3)
    design = basis(z) / unit[:, None]
    curvature = _curvature_gram(knots) / (w_atm * w_atm)
    hessian = 2.0 / n * design.T @ design + 2.0 * smoothing * curvature
    gradient = -2.0 / n * design.T @ ((w_mid - w_svi) / unit)
    band_penalty = np.full(n, _BAND_PENALTY / n)
    state = _penalized_band_qp(hessian, gradient, design, lower, upper, band_penalty)

    # butterfly guard: linearize g >= _DENSITY_FLOOR where it fails (and where it failed before), solve again
    grid = _arbitrage_grid(float(k[0]), float(k[-1]), grid_points, knots[4:-4] * scale)
    zg = grid / scale
    rows = (basis(zg), basis.derivative(1)(zg) / scale, basis.derivative(2)(zg) / scale ** 2)
    svi_terms = params.derivatives(grid)
    watched = np.zeros(grid.size, dtype=bool)
    band_row_norm = float(np.median(np.linalg.norm(design, axis=1)))
    for _ in range(_DENSITY_ROUNDS):
        x = state[0]
        terms = [svi + row @ x for svi, row in zip(svi_terms, rows)]
        g = gatheral_density(grid, *terms)
        low = ~(g >= _DENSITY_FLOOR)
        if not low.any() or not np.all(terms[0] > 0.0):
            break
        watched |= low
        d_w, d_w1 = _density_gradient(grid[watched], terms[0][watched], terms[1][watched])
        linear = (d_w[:, None] * rows[0][watched] + d_w1[:, None] * rows[1][watched] + 0.5 * rows[2][watched])
        # rows scaled to the size of the band rows (for the solver), penalties scaled back to mean per unit of g
        row_scale = band_row_norm / np.maximum(np.linalg.norm(linear, axis=1), 1e-300)
        floor = (_DENSITY_FLOOR - g[watched] + linear @ x) * row_scale
        matrix = np.vstack([design, linear * row_scale[:, None]])
        lower_all = np.concatenate([lower, floor])
        upper_all = np.concatenate([upper, np.full(floor.size, np.inf)])
        penalty_all = np.concatenate([band_penalty, _BAND_PENALTY / n / _DENSITY_UNIT / row_scale])
        ax = matrix @ x
        start = (x, np.clip(ax, lower_all, upper_all), np.concatenate([state[2][:n], np.zeros(floor.size)]))
        state = _penalized_band_qp(hessian, gradient, matrix, lower_all, upper_all, penalty_all, start=start)
    coefficients = state[0]
    if not np.all(np.isfinite(coefficients)):
        return None
    return SmileCorrection(knots, coefficients, scale)


def _density_gradient(k: np.ndarray, w: np.ndarray, w1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Partial derivatives of Gatheral's g with respect to w and w' (dg/dw'' is 1/2)."""
    first = 1.0 - k * w1 / (2.0 * w)
    d_w = first * k * w1 / (w * w) + 0.25 * w1 * w1 / (w * w)
    d_w1 = -first * k / w - 0.5 * w1 * (1.0 / w + 0.25)
    return d_w, d_w1


def _arbitrage_grid(k_min: float, k_max: float, points: int, knots=()) -> np.ndarray:
    """``points`` even steps over [k_min, k_max] plus the given knots and the midpoints between them."""
    grid = np.linspace(k_min, k_max, points)
    knots = np.asarray(knots, dtype=np.float64)
    if knots.size:
        edges = np.unique(np.concatenate([[k_min], knots, [k_max]]))
        grid = np.concatenate([grid, edges, 0.5 * (edges[1:] + edges[:-1])])
        grid = np.unique(grid[(grid >= k_min) & (grid <= k_max)])
    return grid


def _clamped_knots(z: np.ndarray, every: int) -> np.ndarray:
    """Cubic knot vector on [z_0, z_-1] with an interior knot at every ``every``-th point."""
    lo, hi = float(z[0]), float(z[-1])
    inner = z[every:-1:every] if z.size > every + 1 else z[:0]
    inner = inner[(inner > lo) & (inner < hi)]
    if inner.size and hi - inner[-1] < 0.5 * (inner[-1] - (inner[-2] if inner.size > 1 else lo)):
        inner = inner[:-1]  # no sliver interval at the right end
    return np.concatenate([[lo] * 4, inner, [hi] * 4])


def _curvature_gram(knots: np.ndarray) -> np.ndarray:
    """R[i, j] = int B_i''(z) B_j''(z) dz over the knot range, exact (the integrand is quadratic per interval)."""
    edges = np.unique(knots)
    half = 0.5 * np.diff(edges)
    centre = 0.5 * (edges[1:] + edges[:-1])
    node = 1.0 / math.sqrt(3.0)
    points = np.concatenate([centre - half * node, centre + half * node])
    weights = np.concatenate([half, half])
    count = knots.size - 4
    second = BSpline(knots, np.eye(count), 3).derivative(2)(points)
    return second.T @ (second * weights[:, None])


def _penalized_band_qp(hessian: np.ndarray, gradient: np.ndarray, design: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray, penalty: np.ndarray, *, start=None, max_iterations: int = 2000,
                       tolerance: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """argmin_x 1/2 x'Hx + g'x + sum_i penalty_i dist(A_i x, [lower_i, upper_i]) for positive definite H.

    ADMM on the splitting z = A x (the OSQP iteration of Stellato et al., 2020, with over-relaxation and
    adaptive step size rho), where the z-step is the proximal map of the weighted distance to the bands:
    a point outside its band moves towards it by at most penalty_i / rho. Convex, so it converges to the
    global minimum; stops when the primal and dual residuals are below ``tolerance`` (absolute plus
    relative), or after ``max_iterations`` (an approximate but well-defined minimizer). ``start`` is an
    optional warm start (x, z, y); returns the final (x, z, y), x the minimizer.
    """
    size = hessian.shape[0]
    regularization = 1e-10 * max(float(np.trace(hessian)) / size, 1e-300)
    gram = design.T @ design

    def inverse(step: float) -> np.ndarray:
        matrix = hessian + regularization * np.eye(size) + step * gram
        return np.linalg.inv(0.5 * (matrix + matrix.T))

    step = 1.0
    solve = inverse(step)
    if start is None:
        x = np.zeros(size)
        z = np.clip(design @ x, lower, upper)
        y = np.zeros(design.shape[0])
    else:
        x, z, y = (np.array(part, dtype=np.float64) for part in start)
    relaxation = 1.6
    for iteration in range(max_iterations):
        x = solve @ (regularization * x - gradient + design.T @ (step * z - y))
        ax = design @ x
        relaxed = relaxation * ax + (1.0 - relaxation) * z
        v = relaxed + y / step
        reach = penalty / step
        z = np.where(v > upper, np.maximum(upper, v - reach), np.where(v < lower, np.minimum(lower, v + reach), v))
        y = y + step * (relaxed - z)
        if iteration % 10 == 9:
            hx, aty = hessian @ x, design.T @ y
            primal = float(np.max(np.abs(ax - z)))
            dual = float(np.max(np.abs(hx + gradient + aty)))
            primal_scale = max(float(np.max(np.abs(ax))), float(np.max(np.abs(z))), 1e-30)
            dual_scale = max(float(np.max(np.abs(hx))), float(np.max(np.abs(aty))), float(np.max(np.abs(gradient))),
                             1e-30)
            if primal <= tolerance * (1.0 + primal_scale) and dual <= tolerance * (1.0 + dual_scale):
                break
            if iteration % 50 == 49:
                ratio = math.sqrt((primal / primal_scale) / max(dual / dual_scale, 1e-30))
                if ratio > 5.0 or ratio < 0.2:
                    step = min(max(step * ratio, 1e-6), 1e6)
                    solve = inverse(step)
    return x, z, y
