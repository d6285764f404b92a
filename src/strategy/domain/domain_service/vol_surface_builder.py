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
   the snapshot's rate, keeping F from parity, and ``build`` says so in one
   ``RateFallbackWarning`` naming the expiries (the snapshot's rate defaults to
   0). Without usable parity quotes, F is the futures price mapped to that
   expiry in the snapshot's ``forward_hints``, and failing that the underlying
   price carried at the snapshot's rate; D is then ``exp(-rate T)``. The source
   is reported.

   American and ETF chains (SPY): early exercise lifts the puts, so the parity
   regression often implies an absurd rate. Give the rate, and the dividend
   yield if known, to ``build(snapshot, rate=..., dividend_yield=...)``: with
   ``rate`` alone D is ``exp(-rate T)`` for every expiry and F still comes from
   parity (source "parity+rate"); with both, ``F = S exp((rate - q) T)`` and no
   parity is used (source "rate+dividend"). The vols stay Black-76 (European)
   vols of American prices.
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

This module holds the builder and its result values; steps 5 to 7 live in
``surface_fit/``: ``svi`` (the SVI backbone and its fit), ``smile_correction``
(the band-constrained correction) and ``arbitrage`` (the report).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Sequence

import numpy as np

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.surface_fit.arbitrage import (
    ArbitrageReport,
    ButterflyViolation,
    CalendarViolation,
    arbitrage_report,
)
from src.strategy.domain.domain_service.surface_fit.smile_correction import SmileCorrection, fit_correction
from src.strategy.domain.domain_service.surface_fit.svi import SviParameters, fit_svi, gatheral_density
# numerical helpers the unit tests reach through this module
from src.strategy.domain.domain_service.surface_fit.smile_correction import _penalized_band_qp  # noqa: F401
from src.strategy.domain.domain_service.surface_fit.svi import _RHO_LIMIT, _quasi_explicit_fit  # noqa: F401
from src.strategy.domain.value_object.trading_calendar import act365_year_fraction
from src.strategy.domain.value_object.vol_surface import (
    OptionChainSnapshot,
    OptionQuote,
    OptionType,
    Smile,
    VolSurface,
    option_sign,
)

__all__ = [
    "ArbitrageReport", "ButterflyViolation", "CalendarViolation", "ForwardEstimate", "QuoteVol",
    "RateFallbackWarning", "SmileCorrection", "SviFit", "SviParameters", "VolSurfaceBuild", "VolSurfaceBuilder",
    "gatheral_density",
]


class RateFallbackWarning(UserWarning):
    """Put-call parity gave no usable discount factor, so the snapshot's rate was used instead."""

# --------------------------------------------------------------------------- result values


@dataclass(frozen=True)
class ForwardEstimate:
    expiry: datetime
    t: float
    forward: float
    discount: float
    source: str              # "parity", "parity+rate", "futures", "carry" or "rate+dividend"
    parity_strikes: int
    note: str = ""           # why parity did not give the discount factor, when it did not

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

    def build(self, snapshot: OptionChainSnapshot, *, rate: float | None = None,
              dividend_yield: float | None = None) -> VolSurfaceBuild:
        """The surface of one snapshot; ``rate`` and ``dividend_yield`` as in ``estimate_forward``.

        Warns (``RateFallbackWarning``, once per build) when parity was rejected
        for some expiries and the snapshot's rate discounted them instead.
        """
        _check_rate_inputs(rate, dividend_yield)
        forwards: list[ForwardEstimate] = []
        quote_vols: list[QuoteVol] = []
        smiles: list[Smile] = []
        fits: list[SviFit] = []
        for expiry in snapshot.expiries():
            t = act365_year_fraction(snapshot.valuation_time, expiry)
            if not t > 0.0:
                continue
            quotes = snapshot.quotes_for(expiry)
            estimate = self.estimate_forward(snapshot, expiry, t, quotes, rate=rate, dividend_yield=dividend_yield)
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
        fallbacks = [f for f in forwards if f.note]
        if fallbacks:
            shown = "; ".join(f"{f.expiry:%Y-%m-%d %H:%M} {f.note}" for f in fallbacks[:3])
            more = f"; and {len(fallbacks) - 3} more" if len(fallbacks) > 3 else ""
            warnings.warn(RateFallbackWarning(
                f"put-call parity gave no usable discount factor for {len(fallbacks)} of {len(forwards)} expiries "
                f"({shown}{more}); they are discounted at snapshot.rate = {snapshot.rate:g}. For American or ETF "
                f"chains pass rate= (and dividend_yield=) to VolSurfaceBuilder.build"), stacklevel=2)
        surface = VolSurface.from_smiles(smiles) if smiles else None
        report = self.arbitrage_report(fits)
        return VolSurfaceBuild(snapshot.valuation_time, tuple(forwards), tuple(quote_vols), surface,
                               tuple(fits), report)

    def estimate_forward(self, snapshot: OptionChainSnapshot, expiry: datetime, t: float,
                         quotes: Sequence[OptionQuote], *, rate: float | None = None,
                         dividend_yield: float | None = None) -> ForwardEstimate:
        """Forward and discount factor of one expiry (step 2 of the module notes).

        ``rate`` (continuously compounded) replaces the parity regression's discount
        factor; with ``dividend_yield`` too the forward is the spot carried at
        ``rate - dividend_yield`` and parity is not used. When parity is rejected
        without a given rate, the estimate's ``note`` says why.
        """
        _check_rate_inputs(rate, dividend_yield)
        if rate is not None and dividend_yield is not None:
            discount = math.exp(-rate * t)
            forward = snapshot.underlying_price * math.exp((rate - dividend_yield) * t)
            return ForwardEstimate(expiry, t, forward, discount, "rate+dividend", 0)
        calls = {q.strike: q.mid for q in quotes if q.option_type is OptionType.CALL and q.is_two_sided}
        puts = {q.strike: q.mid for q in quotes if q.option_type is OptionType.PUT and q.is_two_sided}
        strikes = np.array(sorted(set(calls) & set(puts)))
        given_rate = rate is not None
        fallback_rate = rate if given_rate else snapshot.rate
        fallback_discount = math.exp(-fallback_rate * t)
        if strikes.size >= 1:
            spread = np.array([calls[k] - puts[k] for k in strikes])
            nearest = np.argsort(np.abs(spread), kind="stable")[: self.parity_strikes]
            k_used, y_used = strikes[nearest], spread[nearest]
            note = "has one parity strike"
            if not given_rate and k_used.size >= 2 and np.ptp(k_used) > 0.0:
                slope, intercept = np.polyfit(k_used, y_used, 1)
                discount = -slope
                note = f"parity discount factor {discount:.6g} is not positive"
                if discount > 0.0:
                    implied_rate = -math.log(discount) / t
                    forward = intercept / discount
                    if self.rate_bounds[0] <= implied_rate <= self.rate_bounds[1] and forward > 0.0:
                        return ForwardEstimate(expiry, t, float(forward), float(discount), "parity", int(k_used.size))
                    note = (f"parity implies rate {implied_rate:.4f} outside rate_bounds {self.rate_bounds}"
                            if forward > 0.0 else f"parity implies forward {forward:.6g}")
            # keep F from parity (it is well determined near the money), take D from the rate
            forward = float(np.median(k_used + y_used / fallback_discount))
            if forward > 0.0:
                return ForwardEstimate(expiry, t, forward, fallback_discount, "parity+rate", int(k_used.size),
                                       "" if given_rate else note)
        hint = snapshot.forward_hints.get(expiry)
        if hint is not None:
            return ForwardEstimate(expiry, t, float(hint), fallback_discount, "futures", 0)
        carried = snapshot.underlying_price * math.exp(fallback_rate * t)
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
        params = fit_svi(k[window], mid[window], bid[window], ask[window], t)
        if params is None:
            return None
        correction = None
        if self.correct_smile:
            correction = fit_correction(k, mid, bid, ask, t, params, self.correction_smoothing,
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
        """Butterfly and calendar arbitrage of the fitted smiles (see ``surface_fit.arbitrage``)."""
        return arbitrage_report(fits, self.arbitrage_grid_points)

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


def _check_rate_inputs(rate: float | None, dividend_yield: float | None) -> None:
    if rate is not None and not math.isfinite(rate):
        raise ValueError(f"rate must be finite, got {rate}")
    if dividend_yield is not None:
        if rate is None:
            raise ValueError("dividend_yield needs rate: the forward is the spot carried at rate - dividend_yield")
        if not math.isfinite(dividend_yield):
            raise ValueError(f"dividend_yield must be finite, got {dividend_yield}")
