"""Raw SVI: the parameters of one expiry's smile backbone and their constrained fit to bid/mid/ask vols.

Total variance ``w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + s^2))`` with
``b >= 0, |rho| < 1, s > 0``, minimum variance ``a + b s sqrt(1 - rho^2) >= 0``
and Roger Lee's wing bound ``b (1 + |rho|) <= 2``. The fit: a quasi-explicit
least-squares fit to the mids weighted by the inverse bid/ask vol spread, then a
fit of all five parameters that penalizes leaving the bid/ask vol band.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, minimize

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


def fit_svi(k: np.ndarray, mid: np.ndarray, bid: np.ndarray, ask: np.ndarray, t: float) -> SviParameters | None:
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
