"""American options: Bjerksund-Stensland (2002) prices, finite-difference Greeks and implied volatility.

The approximation is a lower bound of the true value (it prices one particular
exercise strategy), so the price returned is the largest of it, the European
value and the immediate exercise value, each of which is also a lower bound.
"""
from __future__ import annotations

import math
from typing import Callable, Literal

import numpy as np
from scipy.special import log_ndtr, ndtr, roots_legendre

from src.strategy.domain.domain_service.pricing.implied_vol import european_implied_vol
from src.strategy.domain.domain_service.pricing.inputs import Inputs, valid_mask

AmericanUnderlying = Literal["futures", "spot"]

_T1_RATIO = 0.5 * (math.sqrt(5.0) - 1.0)           # t1 = T (sqrt 5 - 1) / 2
_RHO = math.sqrt(_T1_RATIO)                          # correlation of the two exercise dates
_GL_NODES, _GL_WEIGHTS = roots_legendre(20)


def _bivariate_quadrature(rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    angle = math.asin(rho)
    theta = 0.5 * angle * (_GL_NODES + 1.0)
    weights = 0.5 * angle * _GL_WEIGHTS / (2.0 * math.pi)
    return np.sin(theta), 0.5 / np.cos(theta) ** 2, weights


_BVN = {+1: _bivariate_quadrature(_RHO), -1: _bivariate_quadrature(-_RHO)}


def _bivariate_normal_cdf(a: np.ndarray, b: np.ndarray, rho_sign: int) -> np.ndarray:
    """P(X < a, Y < b) for standard normals with correlation rho_sign * sqrt(t1/T).

    Sheppard's integral over the angle asin(rho), by 20-point Gauss-Legendre:
    Genz (2004) shows that is accurate to double precision for |rho| < 0.925,
    and |rho| = 0.786 here.
    """
    sines, inv_two_cos2, weights = _BVN[rho_sign]
    a2b2 = (a * a + b * b)[..., None]
    ab = (a * b)[..., None]
    integral = np.exp(-(a2b2 - 2.0 * ab * sines) * inv_two_cos2) @ weights
    return np.clip(ndtr(a) * ndtr(b) + integral, 0.0, 1.0)


def _bs2002_call(s, k, t, r, b, v) -> np.ndarray:
    """Bjerksund-Stensland (2002) American call, cost of carry b; 1-D arrays, t > 0, v > 0."""
    v2 = v * v
    sqrt_t = np.sqrt(t)
    disc = np.exp(-r * t)
    d1 = (np.log(s / k) + (b + 0.5 * v2) * t) / (v * sqrt_t)
    european = s * np.exp((b - r) * t) * ndtr(d1) - k * disc * ndtr(d1 - v * sqrt_t)
    price = european.copy()

    with np.errstate(all="ignore"):
        beta = (0.5 - b / v2) + np.sqrt((b / v2 - 0.5) ** 2 + 2.0 * r / v2)
    early = (b < r) & np.isfinite(beta) & (beta > 1.0)
    if not early.any():
        return price
    index = np.nonzero(early)[0]
    # every per-option array is narrowed to the options with early exercise, sqrt_t included
    s, k, t, r, b, v, v2, beta, sqrt_t = (a[index] for a in (s, k, t, r, b, v, v2, beta, sqrt_t))
    b_inf = beta / (beta - 1.0) * k
    b_0 = np.maximum(k, r / (r - b) * k)
    t1 = _T1_RATIO * t
    with np.errstate(all="ignore"):
        # expm1 overflows for extreme carry or volatility; such options come out non-finite below and keep
        # the European price
        scale = k * k / ((b_inf - b_0) * b_0)
        h1 = -(b * t1 + 2.0 * v * np.sqrt(t1)) * scale
        h2 = -(b * t + 2.0 * v * sqrt_t) * scale
        i1 = b_0 + (b_inf - b_0) * (-np.expm1(h1))
        i2 = b_0 + (b_inf - b_0) * (-np.expm1(h2))

    def phi(gamma, h, i, base):
        # e^{lambda t1} S^gamma [N(-d) - (I/S)^kappa N(-d - 2 ln(I/S)/(v sqrt t1))] / base^gamma
        sq = v * np.sqrt(t1)
        lam = (-r + gamma * b + 0.5 * gamma * (gamma - 1.0) * v2) * t1
        kappa = 2.0 * b / v2 + (2.0 * gamma - 1.0)
        d = (np.log(s / h) + (b + (gamma - 0.5) * v2) * t1) / sq
        log_is = np.log(i / s)
        inner = ndtr(-d) - np.exp(kappa * log_is + log_ndtr(-d - 2.0 * log_is / sq))
        return np.exp(lam + gamma * np.log(s / base)) * inner

    def psi(gamma, h, base):
        sq1 = v * np.sqrt(t1)
        sq = v * sqrt_t
        drift1 = (b + (gamma - 0.5) * v2) * t1
        drift = (b + (gamma - 0.5) * v2) * t
        lam = (-r + gamma * b + 0.5 * gamma * (gamma - 1.0) * v2) * t
        kappa = 2.0 * b / v2 + (2.0 * gamma - 1.0)
        e1 = (np.log(s / i1) + drift1) / sq1
        e2 = (np.log(i2 * i2 / (s * i1)) + drift1) / sq1
        e3 = (np.log(s / i1) - drift1) / sq1
        e4 = (np.log(i2 * i2 / (s * i1)) - drift1) / sq1
        f1 = (np.log(s / h) + drift) / sq
        f2 = (np.log(i2 * i2 / (s * h)) + drift) / sq
        f3 = (np.log(i1 * i1 / (s * h)) + drift) / sq
        f4 = (np.log(s * i1 * i1 / (h * i2 * i2)) + drift) / sq

        def weighted(log_factor, m):
            return np.exp(log_factor + np.log(m))

        inner = (_bivariate_normal_cdf(-e1, -f1, +1)
                 - weighted(kappa * np.log(i2 / s), _bivariate_normal_cdf(-e2, -f2, +1))
                 - weighted(kappa * np.log(i1 / s), _bivariate_normal_cdf(-e3, -f3, -1))
                 + weighted(kappa * np.log(i1 / i2), _bivariate_normal_cdf(-e4, -f4, -1)))
        return np.exp(lam + gamma * np.log(s / base)) * inner

    one = np.ones_like(s)
    with np.errstate(all="ignore"):
        alpha1 = i1 - k      # alpha_j = (I_j - K) I_j^{-beta}; I_j^{-beta} is folded into the base
        alpha2 = i2 - k
        value = (alpha2 * np.exp(beta * np.log(s / i2))
                 - alpha2 * phi(beta, i2, i2, i2)
                 + phi(1.0, i2, i2, one) - phi(1.0, i1, i2, one)
                 - k * phi(0.0, i2, i2, one) + k * phi(0.0, i1, i2, one)
                 + alpha1 * phi(beta, i1, i2, i1)
                 - alpha1 * psi(beta, i1, i1)
                 + psi(1.0, i1, one) - psi(1.0, k, one)
                 - k * psi(0.0, i1, one) + k * psi(0.0, k, one))
    value = np.where(s >= i2, s - k, value)
    price[index] = np.where(np.isfinite(value), value, price[index])
    return price


def _deterministic_american_call(s, k, t, r, b):
    """Value with zero volatility: the best of exercising now, at expiry or at the stationary date."""
    def worth(tau):
        return np.maximum(np.exp(-r * tau) * (s * np.exp(b * tau) - k), 0.0)

    best = np.maximum(worth(np.zeros_like(t)), worth(t))
    with np.errstate(all="ignore"):
        stationary = np.log(r * k / ((r - b) * s)) / b
    inside = np.isfinite(stationary) & (stationary > 0.0) & (stationary < t)
    return np.where(inside, np.maximum(best, worth(np.where(inside, stationary, 0.0))), best)


def american_price(sign, u, k, t, r, b, v) -> np.ndarray:
    """American price by put-call symmetry P(S, K, r, b) = C(K, S, r - b, -b); 1-D arrays, inputs valid."""
    is_call = sign > 0
    spot = np.where(is_call, u, k)
    strike = np.where(is_call, k, u)
    rate = np.where(is_call, r, r - b)
    carry = np.where(is_call, b, -b)
    intrinsic = np.maximum(spot - strike, 0.0)
    price = intrinsic.copy()
    live = t > 0.0
    random = live & (v > 0.0)
    if random.any():
        i = np.nonzero(random)[0]
        value = _bs2002_call(spot[i], strike[i], t[i], rate[i], carry[i], v[i])
        d1 = (np.log(spot[i] / strike[i]) + (carry[i] + 0.5 * v[i] ** 2) * t[i]) / (v[i] * np.sqrt(t[i]))
        european = (spot[i] * np.exp((carry[i] - rate[i]) * t[i]) * ndtr(d1)
                    - strike[i] * np.exp(-rate[i] * t[i]) * ndtr(d1 - v[i] * np.sqrt(t[i])))
        price[i] = np.maximum(np.maximum(value, european), intrinsic[i])
    still = live & (v == 0.0)
    if still.any():
        i = np.nonzero(still)[0]
        price[i] = _deterministic_american_call(spot[i], strike[i], t[i], rate[i], carry[i])
    return price


class AmericanModel:
    """American options on futures (cost of carry b = 0) or on a spot price with yield q (b = r - q)."""

    def __init__(self, underlying: AmericanUnderlying):
        self.on_futures = underlying == "futures"

    def carry(self, r, q):
        return np.zeros_like(r) if self.on_futures else r - q

    def prices(self, inputs: Inputs) -> np.ndarray:
        """Premiums only, NaN where the inputs are invalid; flat (``inputs.size``)."""
        sign, u, k, t, r, q, v = (inputs.full(n) for n in ("sign", "underlying", "strike", "t", "r", "q", "sigma"))
        out = np.full(inputs.size, np.nan)
        with np.errstate(all="ignore"):
            valid = valid_mask(sign, u, k, t, r, q, v)
        i = np.nonzero(valid)[0]
        if i.size:
            out[i] = american_price(sign[i], u[i], k[i], t[i], r[i], self.carry(r[i], q[i]), v[i])
        return out

    def greeks(self, inputs: Inputs) -> list[np.ndarray]:
        sign, u, k, t, r, q, v = (inputs.full(n) for n in ("sign", "underlying", "strike", "t", "r", "q", "sigma"))
        n = inputs.size
        outs = [np.full(n, np.nan) for _ in range(5)]
        with np.errstate(all="ignore"):
            valid = valid_mask(sign, u, k, t, r, q, v)
        index = np.nonzero(valid)[0]
        if index.size == 0:
            return outs
        sign, u, k, t, r, q, v = (a[index] for a in (sign, u, k, t, r, q, v))
        b = self.carry(r, q)
        du = 1e-4 * u
        dv = np.minimum(1e-4, 0.5 * v)
        dt = np.minimum(1e-4, 0.5 * t)
        # one stacked call: base, U+, U-, sigma+, sigma-, T+, T-
        stack = lambda *parts: np.concatenate(parts)  # noqa: E731
        prices = american_price(
            np.tile(sign, 7), stack(u, u + du, u - du, u, u, u, u), np.tile(k, 7),
            stack(t, t, t, t, t, t + dt, t - dt), np.tile(r, 7), np.tile(b, 7),
            stack(v, v, v, v + dv, v - dv, v, v)).reshape(7, -1)
        base, up, down, vol_up, vol_down, later, sooner = prices
        with np.errstate(all="ignore"):
            delta = (up - down) / (2.0 * du)
            gamma = (up - 2.0 * base + down) / (du * du)
            vega = np.where(dv > 0, (vol_up - vol_down) / (2.0 * dv), 0.0)
            theta = np.where(dt > 0, -(later - sooner) / (2.0 * dt), 0.0)
        for target, values in zip(outs, (base, delta, gamma, vega, theta)):
            target[index] = values
        return outs

    def implied_vol(self, inputs: Inputs) -> np.ndarray:
        price, sign, u, k, t, r, q = (inputs.full(n) for n in ("price", "sign", "underlying", "strike", "t", "r", "q"))
        out = np.full(inputs.size, np.nan)
        with np.errstate(all="ignore"):
            valid = valid_mask(sign, u, k, t, r, q, price=price, positive_t=True)
        index = np.nonzero(valid)[0]
        if index.size == 0:
            return out.reshape(inputs.shape)
        price, sign, u, k, t, r, q = (a[index] for a in (price, sign, u, k, t, r, q))
        b = self.carry(r, q)

        def excess(vol, subset):
            return american_price(sign[subset], u[subset], k[subset], t[subset], r[subset], b[subset], vol) - price[subset]

        everything = np.arange(index.size)
        floor = excess(np.zeros(index.size), everything)           # < 0 needed: some time value
        cap = np.where(sign > 0, u, k)  # an American call is worth less than its underlying, a put than its strike
        solvable = (floor < 0.0) & (price < cap)
        # The European implied vol bounds the American one from above (American >= European at every vol).
        european = european_implied_vol(Inputs.build(
            price=price, sign=sign, underlying=u, strike=k, t=t, r=r, q=np.where(self.on_futures, r, q)),
            black=False)
        high = np.where(np.isfinite(european) & (european > 0), european, 1.0)
        high_excess = excess(high, everything)
        for _ in range(12):
            short = solvable & ~(high_excess >= 0.0)
            if not short.any():
                break
            grow = np.nonzero(short)[0]
            high[grow] *= 4.0
            high_excess[grow] = excess(high[grow], grow)
        solvable &= high_excess >= 0.0
        low = np.zeros(index.size)
        low_excess = floor
        # a lower bracket close to the top one: the early-exercise premium is usually small
        trial = 0.9 * high
        trial_excess = excess(trial, everything)
        use = solvable & (trial_excess < 0.0)
        low = np.where(use, trial, low)
        low_excess = np.where(use, trial_excess, low_excess)
        solved = _illinois(excess, low, high, low_excess, high_excess, solvable)
        out[index] = solved
        return out.reshape(inputs.shape)


def _illinois(func: Callable[[np.ndarray, np.ndarray], np.ndarray], low, high, f_low, f_high, active_mask,
              tolerance: float = 1e-12, iterations: int = 200) -> np.ndarray:
    """Vectorized Illinois (modified regula falsi) on brackets with f(low) < 0 <= f(high)."""
    low, high, f_low, f_high = (np.array(a, dtype=np.float64) for a in (low, high, f_low, f_high))
    result = np.full(low.size, np.nan)
    active = np.nonzero(active_mask)[0]
    side = np.zeros(low.size, dtype=np.int8)
    for _ in range(iterations):
        if active.size == 0:
            break
        a, c, fa, fc = low[active], high[active], f_low[active], f_high[active]
        with np.errstate(all="ignore"):
            guess = c - fc * (c - a) / (fc - fa)
        guess = np.where((guess > a) & (guess < c), guess, 0.5 * (a + c))
        fg = func(guess, active)
        exact = fg == 0.0
        went_low = fg < 0.0
        last = side[active]
        # Illinois: halve the stale end's value when the same end moves twice
        fc = np.where(went_low & (last == -1), 0.5 * fc, fc)
        fa = np.where(~went_low & (last == 1), 0.5 * fa, fa)
        a = np.where(went_low, guess, a)
        fa = np.where(went_low, fg, fa)
        c = np.where(went_low, c, guess)
        fc = np.where(went_low, fc, fg)
        side[active] = np.where(went_low, -1, 1)
        low[active], high[active], f_low[active], f_high[active] = a, c, fa, fc
        done = exact | ((c - a) <= tolerance * c)
        result[active[done]] = np.where(exact[done], guess[done], 0.5 * (a[done] + c[done]))
        active = active[~done]
    return result

