"""European implied volatility: a safeguarded Householder iteration on the normalized Black price."""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from src.strategy.domain.domain_service.pricing.inputs import CHUNK, INV_SQRT_2PI, LOG_SQRT_2PI, Inputs, valid_mask

def _householder_step(f, fp, h2, h3):
    """Third-order Householder step for f, with h2 = f''/f', h3 = f'''/f'; Newton's step when that fails."""
    nu = -f / fp
    factor = (1.0 + 0.5 * h2 * nu) / (1.0 + nu * (h2 + h3 * nu / 6.0))
    step = nu * factor
    return np.where(np.isfinite(step) & (factor > 0.0), step, nu)


# A Householder step below this (relative to s) leaves an error of order its cube: converged.
_STEP_CONVERGED = 1e-7
_MAX_ITERATIONS = 100


def _solve_region(x, tau, s, lower: bool) -> np.ndarray:
    """Safeguarded Householder iteration for b(x, s) = tau on one region (x <= 0).

    Below the inflection point s_c = sqrt(2|x|) (``lower``) the objective is
    ln b(s) - ln tau, concave there; above it ln c(s) - ln c_tau with
    c = e^{x/2} - b, the distance to the no-arbitrage bound, which keeps the
    iteration fast when the price is close to that bound and vega is tiny.
    A bracket [lo, hi] from the sign of b - tau catches any step that leaves it
    and replaces it by a bisection, so the iteration cannot diverge; elements
    that do not converge come back as NaN, never as the starting guess.
    """
    n = x.size
    result = np.full(n, np.nan)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    e_plus = np.exp(0.5 * x)
    e_minus = np.exp(-0.5 * x)
    target = np.log(tau) if lower else np.log(e_plus - tau)
    active = np.arange(n)
    for _ in range(_MAX_ITERATIONS):
        if active.size == 0:
            break
        if active.size != n:
            xs, ep, em, tg, ts = (v[active] for v in (x, e_plus, e_minus, target, tau))
            si, los, his = s[active], lo[active], hi[active]
        else:
            xs, ep, em, tg, ts, si, los, his = x, e_plus, e_minus, target, tau, s, lo, hi
        h = xs / si
        half = 0.5 * si
        vega = np.exp(-0.5 * (h * h + half * half)) * INV_SQRT_2PI
        if lower:
            value = ep * ndtr(h + half) - em * ndtr(h - half)
            below = value < ts
            ratio = vega / value
        else:
            value = ep * ndtr(-(h + half)) + em * ndtr(h - half)
            below = value > ep - ts
            ratio = -vega / value
        f = np.log(value) - tg
        r2 = (h * h - half * half) / si          # b''/b'
        r3 = r2 * r2 - 3.0 * h * h / (si * si) - 0.25  # b'''/b'
        step = _householder_step(f, ratio, r2 - ratio, r3 - 3.0 * r2 * ratio + 2.0 * ratio * ratio)
        los = np.where(below, si, los)
        his = np.where(below, his, si)
        proposal = si + step
        converged = np.abs(step) <= _STEP_CONVERGED * si
        outside = ~((proposal > los) & (proposal < his))
        # (the two corrections below are skipped when no element needs them: on the few options of a
        # trading step numpy's fixed cost per call is most of the work, and most steps stay inside)
        rejected = outside & ~converged
        if rejected.any():
            bisection = np.where(np.isinf(his), 2.0 * si, np.where(los > 0.0, np.sqrt(los * his), 0.5 * his))
            proposal = np.where(rejected, bisection, proposal)
        # a bracket that has closed to rounding is as good as convergence
        converged |= (his < np.inf) & ((his - los) <= 4e-16 * his)
        clipped = converged & outside
        if clipped.any():
            proposal = np.where(clipped, np.clip(proposal, los, his), proposal)
        if active.size != n:
            s[active], lo[active], hi[active] = proposal, los, his
        else:
            s, lo, hi = proposal, los, his
        done = active[converged]
        result[done] = s[done]
        active = active[~converged]
    return result


def _lower_guess(x, tau, s_c):
    """Small-s asymptotics b ~ s^3/(x^2 sqrt(2 pi)) exp(-x^2/(2 s^2)) solved for u = x^2/(2 s^2)."""
    level = np.log(-x) - LOG_SQRT_2PI - np.log(tau)
    u = np.maximum(level, 1.0)
    for _ in range(3):
        u = np.maximum(level - 1.5 * np.log(2.0 * u), 0.05)
    return np.minimum(-x / np.sqrt(2.0 * u), s_c)


def _upper_guess(x, tau, s_c, b_c):
    """Large-s asymptotics e^{x/2} - b ~ N(-s/2), scaled to be exact at the inflection point."""
    e_plus = np.exp(0.5 * x)
    return -2.0 * ndtri((e_plus - tau) / (e_plus - b_c) * ndtr(-0.5 * s_c))


def normalized_implied_total_vol(x: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """s = sigma sqrt(T) with b(x, s) = tau, for x <= 0 and 0 < tau < e^{x/2}; NaN where no s does it."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    tau = np.asarray(tau, dtype=np.float64).reshape(-1)
    out = np.full(x.size, np.nan)
    with np.errstate(all="ignore"):
        ok = (x <= 0.0) & (tau > 0.0) & (tau < np.exp(0.5 * x))
        for start in range(0, x.size, CHUNK):
            stop = min(start + CHUNK, x.size)
            index = np.nonzero(ok[start:stop])[0] + start
            if index.size == 0:
                continue
            xs, ts = x[index], tau[index]
            s_c = np.sqrt(-2.0 * xs)
            b_c = 0.5 * np.exp(0.5 * xs) - np.exp(-0.5 * xs) * ndtr(-s_c)
            lower = ts < b_c
            for region, mask in ((True, lower), (False, ~lower)):
                sub = np.nonzero(mask)[0]
                if sub.size == 0:
                    continue
                xr, tr = xs[sub], ts[sub]
                guess = _lower_guess(xr, tr, s_c[sub]) if region else _upper_guess(xr, tr, s_c[sub], b_c[sub])
                guess = np.where(np.isfinite(guess) & (guess > 0.0), guess, np.where(region, s_c[sub], 1.0))
                out[index[sub]] = _solve_region(xr, tr, guess.copy(), region)
    return out


def european_implied_vol(inputs: Inputs, black: bool) -> np.ndarray:
    price = inputs.full("price")
    sign = inputs.full("sign")
    u, k, t, r, q = (inputs.full(n) for n in ("underlying", "strike", "t", "r", "q"))
    with np.errstate(all="ignore"):
        valid = valid_mask(sign, u, k, t, r, q, price=price, positive_t=True)
        disc = np.exp(-r * t)
        forward = u if black else u * np.exp((r - q) * t)
        intrinsic = np.maximum(sign * (forward - k), 0.0) * disc
        scale = disc * np.sqrt(forward * k)
        # Time value of the option = price of the out-of-the-money option of the same strike (parity),
        # expressed as a normalized call with x = -|ln(F/K)|.
        tau = (price - intrinsic) / scale
        x = -np.abs(np.log(forward / k))
        valid &= np.isfinite(tau) & np.isfinite(x) & (scale > 0.0)
    s = np.full(inputs.size, np.nan)
    index = np.nonzero(valid)[0]
    if index.size:
        s[index] = normalized_implied_total_vol(x[index], tau[index])
    with np.errstate(all="ignore"):
        return (s / np.sqrt(t)).reshape(inputs.shape)

