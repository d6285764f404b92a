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
   and the SVI fits use those, since they carry the time value with the least
   noise from the forward.
4. The market surface: per expiry, the out-of-the-money mid vols against
   log-moneyness ``ln(K/F)``, gridded by ``VolSurface.from_smiles`` (bilinear).
5. A raw-SVI fit per expiry, total variance
   ``w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + s^2))``, constrained to
   ``b >= 0, |rho| < 1, s > 0``, minimum variance ``a + b s sqrt(1 - rho^2) >= 0``
   and Roger Lee's wing bound ``b (1 + |rho|) <= 2``: first a least-squares fit
   to the mid vols weighted by the inverse bid/ask vol spread, then a fit that
   penalizes leaving the bid/ask vol band.
6. An arbitrage report on the fits: butterfly arbitrage where Gatheral's
   density function ``g(k)`` is negative inside an expiry's quoted range, and
   calendar arbitrage where total variance decreases from one expiry to the
   next at the same k (inside both expiries' quoted ranges).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import numpy as np
from scipy.optimize import least_squares, lsq_linear, minimize

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

    def density_function(self, k) -> np.ndarray:
        """Gatheral's g(k); the risk-neutral density is proportional to it, so g < 0 is butterfly arbitrage."""
        k = np.asarray(k, dtype=np.float64)
        x = k - self.m
        root = np.sqrt(x * x + self.sigma ** 2)
        w = self.a + self.b * (self.rho * x + root)
        w1 = self.b * (self.rho + x / root)
        w2 = self.b * self.sigma ** 2 / root ** 3
        with np.errstate(divide="ignore", invalid="ignore"):
            return (1.0 - k * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2


@dataclass(frozen=True)
class SviFit:
    expiry: datetime
    t: float
    forward: float
    parameters: SviParameters
    quotes_used: int
    rmse_vol: float            # root-mean-square of (SVI vol - mid vol) over the quotes used
    banded_quotes: int         # quotes used that have both a bid and an ask vol
    inside_bid_ask: int        # of those, the ones whose bid vol <= SVI vol <= ask vol
    k_min: float               # fitted log-moneyness range
    k_max: float

    def implied_vol(self, k) -> np.ndarray:
        return self.parameters.implied_vol(k, self.t)


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
        """A surface of the SVI fits on the given log-moneyness grid."""
        k = np.asarray(log_moneyness, dtype=np.float64)
        fits = sorted(self.svi, key=lambda fit: fit.t)
        return VolSurface(np.array([f.t for f in fits]), k, np.vstack([f.implied_vol(k) for f in fits]),
                          np.array([f.forward for f in fits]))


# --------------------------------------------------------------------------- builder


class VolSurfaceBuilder:
    def __init__(self, *, parity_strikes: int = 6, rate_bounds: tuple[float, float] = (-0.05, 0.25),
                 fit_svi: bool = True, svi_window_std: float | None = 3.0, min_svi_quotes: int = 5,
                 arbitrage_grid_points: int = 201):
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
        """Raw-SVI fit of one expiry's out-of-the-money quotes (None with too few usable quotes).

        Only quotes within ``svi_window_std`` at-the-money standard deviations
        (|k| <= n sigma_atm sqrt(T)) are fitted: five parameters cannot follow a
        short-dated index smile from the money out to the far wings, and the
        region near the money is where the fit is used.
        """
        usable = [v for v in vols if v.out_of_the_money and np.isfinite(v.iv_mid)]
        if len(usable) < self.min_svi_quotes:
            return None
        usable.sort(key=lambda v: v.log_moneyness)
        k = np.array([v.log_moneyness for v in usable])
        mid = np.array([v.iv_mid for v in usable])
        if self.svi_window_std is not None:
            atm_vol = float(np.interp(0.0, k, mid))
            window = np.abs(k) <= self.svi_window_std * atm_vol * math.sqrt(estimate.t)
            if window.sum() >= self.min_svi_quotes:
                usable = [v for v, keep in zip(usable, window) if keep]
                k, mid = k[window], mid[window]
        bid = np.array([v.iv_bid for v in usable])
        ask = np.array([v.iv_ask for v in usable])
        t = estimate.t
        params = _fit_svi(k, mid, bid, ask, t)
        if params is None:
            return None
        model = params.implied_vol(k, t)
        banded = np.isfinite(bid) & np.isfinite(ask)
        inside = int(np.sum(banded & (model >= bid) & (model <= ask)))
        rmse = float(np.sqrt(np.mean((model - mid) ** 2)))
        return SviFit(estimate.expiry, t, estimate.forward, params, len(usable), rmse, int(banded.sum()), inside,
                      float(k[0]), float(k[-1]))

    def arbitrage_report(self, fits: Sequence[SviFit]) -> ArbitrageReport:
        butterfly: list[ButterflyViolation] = []
        calendar: list[CalendarViolation] = []
        ordered = sorted(fits, key=lambda fit: fit.t)
        for fit in ordered:
            grid = np.linspace(fit.k_min, fit.k_max, self.arbitrage_grid_points)
            g = fit.parameters.density_function(grid)
            negative = g < 0.0
            for start, stop in _runs(negative):
                butterfly.append(ButterflyViolation(fit.expiry, float(grid[start]), float(grid[stop - 1]),
                                                    float(g[start:stop].min())))
        for near, far in zip(ordered, ordered[1:]):
            low, high = max(near.k_min, far.k_min), min(near.k_max, far.k_max)
            if not high > low:
                continue
            grid = np.linspace(low, high, self.arbitrage_grid_points)
            w_near = near.parameters.total_variance(grid)
            w_far = far.parameters.total_variance(grid)
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
    b (1 + |rho|) <= 2 are exactly 0 <= u, v <= 2 sigma. Returns (cost, a, b, rho).
    """
    y = (k - m) / sigma
    s = np.sqrt(y * y + 1.0)
    design = np.column_stack([np.ones_like(k), 0.5 * (s + y), 0.5 * (s - y)]) * weight[:, None]
    target = w * weight
    top = float(w.max())
    low = np.array([-top, 0.0, 0.0])
    high = np.array([top, 2.0 * sigma, 2.0 * sigma])
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    if not (np.all(solution >= low) and np.all(solution <= high)):
        solution = lsq_linear(design, target, bounds=(low, high), method="bvls").x
    residual = design @ solution - target
    a, u, v = (float(x) for x in solution)
    b = (u + v) / (2.0 * sigma)
    rho = (u - v) / (u + v) if u + v > 0.0 else 0.0
    return 0.5 * float(residual @ residual), a, b, float(np.clip(rho, -_RHO_LIMIT, _RHO_LIMIT))


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
