"""The band-constrained smoothing correction added to an SVI backbone (a cubic B-spline per expiry).

It minimizes the mean squared distance to the mids in spread units plus a
curvature penalty, subject to each quote's bid/ask total-variance band (an exact
L1 penalty on leaving it), with a linearized butterfly guard, solved as a
quadratic program by ADMM. See ``fit_correction``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import BSpline

from src.strategy.domain.domain_service.surface_fit.arbitrage import arbitrage_grid
from src.strategy.domain.domain_service.surface_fit.svi import SviParameters, gatheral_density

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


def fit_correction(k: np.ndarray, mid: np.ndarray, bid: np.ndarray, ask: np.ndarray, t: float,
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
    grid = arbitrage_grid(float(k[0]), float(k[-1]), grid_points, knots[4:-4] * scale)
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
