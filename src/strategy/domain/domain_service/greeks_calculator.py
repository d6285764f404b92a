"""Prices, Greeks and implied volatilities of whole option chains, vectorized with numpy.

Models (``GreeksCalculator(model=...)``):

- ``"black76"``: European options on a futures price or a forward-priced index;
  ``underlying`` is the futures/forward price F and the premium is
  ``V = e^{-rT} [w F N(w d1) - w K N(w d2)]`` (w = +1 call, -1 put). ``q`` is ignored.
- ``"bs"``: European options on a spot price S with a continuous dividend yield q
  (Black-Scholes-Merton); the forward is ``S e^{(r-q)T}``.
- ``"american"``: American exercise, priced with the Bjerksund-Stensland (2002)
  approximation. By default the underlying is a futures price (cost of carry
  b = 0, the case of exchange-traded commodity options on futures);
  ``american_underlying="spot"`` uses b = r - q. The approximation is a lower
  bound of the true value (it prices one particular exercise strategy), so the
  price returned is the largest of it, the European value and the immediate
  exercise value, each of which is also a lower bound. Greeks are central finite
  differences of that price.

Inputs are numpy arrays or scalars that broadcast together; ``option_type`` is
+1/-1 or "C"/"P" (also "call"/"put", any case, or arrays of them). ``t`` is the
time to expiry in years, ``r`` and ``q`` continuously compounded rates.

Outputs follow ``src.strategy.domain.value_object.greeks`` (vega per 1.00 of
volatility, theta per year of calendar time). An option with invalid inputs
(non-positive underlying or strike, negative time or volatility, non-finite
values, an unknown option type) gets NaN in every output; the call itself does
not raise except for shapes that do not broadcast. At ``t == 0`` or
``sigma == 0`` the Greeks are the deterministic limits (gamma and vega 0).

The European kernels run over the arrays in cache-sized chunks with
preallocated scratch buffers, because at a million options the cost is memory
traffic, not arithmetic.
"""
from __future__ import annotations

import math
from enum import Enum
from typing import Any, Callable, Literal

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri, roots_legendre

from src.strategy.domain.value_object.greeks import GreeksBatch, GreeksResult

Model = Literal["black76", "bs", "american"]
AmericanUnderlying = Literal["futures", "spot"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_CHUNK = 16384

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


class _Inputs:
    """Inputs broadcast to one shape and flattened; size-1 inputs stay Python floats."""

    def __init__(self, shape: tuple[int, ...], values: dict[str, np.ndarray | float]):
        self.shape = shape
        self.size = int(np.prod(shape, dtype=np.int64))
        self.values = values

    @classmethod
    def build(cls, **named: Any) -> "_Inputs":
        arrays: dict[str, np.ndarray] = {}
        for name, value in named.items():
            if name == "sign":
                arrays[name] = option_sign(value)
            else:
                try:
                    arrays[name] = np.asarray(value, dtype=np.float64)
                except (TypeError, ValueError):
                    arrays[name] = _to_float_array(value)
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
        size = int(np.prod(shape, dtype=np.int64))
        values: dict[str, np.ndarray | float] = {}
        for name, array in arrays.items():
            if array.size == 1 and size != 0:
                values[name] = float(array.reshape(-1)[0])
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


def _valid_mask(sign, underlying, strike, t, r, q, sigma=None, price=None, positive_t=False):
    """True where the inputs of one option describe a priceable European/American option."""
    ok = (sign == sign) & (underlying > 0.0) & (underlying < math.inf) & (strike > 0.0) & (strike < math.inf)
    ok &= (t > 0.0) if positive_t else (t >= 0.0)
    ok &= (t < math.inf) & (np.abs(r) < math.inf) & (np.abs(q) < math.inf)
    if sigma is not None:
        ok &= (sigma >= 0.0) & (sigma < math.inf)
    if price is not None:
        ok &= (price >= 0.0) & (price < math.inf)
    return np.asarray(ok)


# --------------------------------------------------------------------------- European kernel

class _Scratch:
    """Buffers reused by every chunk; stacked rows let one ufunc call serve two or three arrays."""

    def __init__(self, size: int):
        self.size = size
        self.sqrt_t = np.empty(size)
        self.s = np.empty(size)
        self.d = np.empty((2, size))          # d1, d2, then N(w d1), N(w d2)
        self.e = np.empty((3, size))          # exponents, then density, e^{-rT}, e^{-qT}
        self.a = np.empty(size)
        self.b = np.empty(size)
        self.tmp = np.empty(size)


def _european_chunk(sign, u, k, t, r, q, sigma, black: bool, out, scratch: _Scratch) -> np.ndarray:
    """Price and Greeks of one chunk, written into the ``out`` slices (price, delta, gamma, vega, theta).

    Generalized Black-Scholes on spot ``u`` with yield ``q``; Black-76 is the case q = r,
    so its forward is u itself and one discount factor serves both legs. Returns the
    total volatility s = sigma sqrt(T) of the chunk (a scratch view) for the caller's checks.
    """
    price, delta, gamma, vega, theta = out
    n = price.shape[0]
    sqrt_t, s, a, b, tmp = scratch.sqrt_t[:n], scratch.s[:n], scratch.a[:n], scratch.b[:n], scratch.tmp[:n]
    d = scratch.d[:, :n]
    rows = 2 if black else 3
    e = scratch.e[:rows, :n]
    d1, d2 = d[0], d[1]

    np.sqrt(t, out=sqrt_t)
    np.multiply(sigma, sqrt_t, out=s)
    np.divide(u, k, out=d1)
    np.log(d1, out=d1)
    if not black:
        np.multiply(t, r - q, out=tmp)
        d1 += tmp
    d1 /= s
    np.multiply(s, 0.5, out=tmp)
    np.subtract(d1, tmp, out=d2)
    d1 += tmp

    np.multiply(d1, d1, out=e[0])
    e[0] *= -0.5
    np.multiply(t, -r if isinstance(r, float) else np.negative(r), out=e[1])
    if not black:
        np.multiply(t, -q if isinstance(q, float) else np.negative(q), out=e[2])
    np.exp(e, out=e)
    dens, disc = e[0], e[1]                 # dens lacks the 1/sqrt(2 pi) factor, applied once below
    dq = disc if black else e[2]

    if isinstance(sign, float):
        if sign < 0:
            np.negative(d, out=d)
    else:
        d *= sign
    ndtr(d, out=d)                          # N(w d1), N(w d2)

    np.multiply(u, dq, out=a)               # A = U e^{-qT} = D F
    np.multiply(k, disc, out=b)             # B = K e^{-rT}

    np.multiply(a, d1, out=price)
    np.multiply(b, d2, out=tmp)
    price -= tmp
    np.multiply(dq, d1, out=delta)
    if not isinstance(sign, float):
        price *= sign                       # V = w (A N(w d1) - B N(w d2))
        delta *= sign
    elif sign < 0:
        np.negative(price, out=price)
        np.negative(delta, out=delta)

    sqrt_t *= _INV_SQRT_2PI
    np.multiply(a, dens, out=vega)
    vega *= sqrt_t

    np.multiply(dq, dens, out=gamma)
    np.multiply(u, s, out=tmp)
    gamma /= tmp
    gamma *= _INV_SQRT_2PI

    # theta = -A n(d1) sigma / (2 sqrt T) + w (q A N(w d1) - r B N(w d2)); for Black-76 the bracket is r V.
    if black:
        np.multiply(price, r, out=theta)
    else:
        np.multiply(a, d1, out=theta)
        theta *= q
        np.multiply(b, d2, out=tmp)
        tmp *= r
        theta -= tmp
        theta *= sign
    np.multiply(vega, sigma, out=tmp)
    tmp /= t
    tmp *= 0.5
    theta -= tmp
    return s


def _european_limits(sign, u, k, t, r, q, black: bool):
    """Greeks where sigma*sqrt(T) == 0: the option is worth its discounted forward intrinsic value."""
    disc = np.exp(-r * t)
    dq = disc if black else np.exp(-q * t)
    forward = u if black else u * np.exp((r - q) * t)
    moneyness = sign * (forward - k)
    in_money = np.where(moneyness > 0, 1.0, np.where(moneyness == 0, 0.5, 0.0))
    a = u * dq
    b = k * disc
    price = sign * (a - b) * in_money
    delta = sign * dq * in_money
    zeros = np.zeros_like(price)
    theta = r * price if black else sign * (q * a - r * b) * in_money
    return price, delta, zeros, zeros.copy(), theta


def _european_batch(inputs: _Inputs, black: bool, chunk: int = _CHUNK) -> list[np.ndarray]:
    n = inputs.size
    # one block for the five outputs: a single large allocation gets huge pages, five medium ones page-fault
    outs = list(np.empty((5, n)))
    scratch = _Scratch(min(chunk, max(n, 1)))
    names = ("sign", "underlying", "strike", "t", "r", "q", "sigma")
    with np.errstate(all="ignore"):
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            sign, u, k, t, r, q, sigma = (inputs.chunk(name, start, stop) for name in names)
            out = [o[start:stop] for o in outs]
            s = _european_chunk(sign, u, k, t, r, q, sigma, black, out, scratch)
            degenerate = s == 0.0
            if degenerate.any():
                index = np.nonzero(degenerate)[0]
                picked = [_pick(v, index) for v in (sign, u, k, t, r, q)]
                for target, values in zip(out, _european_limits(*picked, black)):
                    target[index] = values
            # Checks that NaN propagation does not already make: non-positive underlying or strike,
            # negative time or volatility. Infinite or NaN inputs end up in a non-finite price or theta.
            price, theta = out[0], out[4]
            valid = np.minimum(u, k) > 0.0
            valid &= np.minimum(t, sigma) >= 0.0
            valid &= np.isfinite(np.add(price, theta, out=scratch.tmp[: stop - start]))
            if not valid.all():
                invalid = ~np.broadcast_to(valid, (stop - start,))
                for target in out:
                    target[invalid] = np.nan
    return outs


def _pick(value, index):
    return value if isinstance(value, float) else value[index]


# --------------------------------------------------------------------------- implied volatility (European)

def _normalized_otm_call(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2): a Black price divided by D sqrt(F K)."""
    h = x / s
    t = 0.5 * s
    return np.exp(0.5 * x) * ndtr(h + t) - np.exp(-0.5 * x) * ndtr(h - t)


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
        vega = np.exp(-0.5 * (h * h + half * half)) * _INV_SQRT_2PI
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
        bisection = np.where(np.isinf(his), 2.0 * si, np.where(los > 0.0, np.sqrt(los * his), 0.5 * his))
        proposal = np.where(outside & ~converged, bisection, proposal)
        # a bracket that has closed to rounding is as good as convergence
        converged |= (his < np.inf) & ((his - los) <= 4e-16 * his)
        proposal = np.where(converged & outside, np.clip(proposal, los, his), proposal)
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
    level = np.log(-x) - _LOG_SQRT_2PI - np.log(tau)
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
        for start in range(0, x.size, _CHUNK):
            stop = min(start + _CHUNK, x.size)
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


def _european_implied_vol(inputs: _Inputs, black: bool) -> np.ndarray:
    price = inputs.full("price")
    sign = inputs.full("sign")
    u, k, t, r, q = (inputs.full(n) for n in ("underlying", "strike", "t", "r", "q"))
    with np.errstate(all="ignore"):
        valid = _valid_mask(sign, u, k, t, r, q, price=price, positive_t=True)
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


# --------------------------------------------------------------------------- American (Bjerksund-Stensland 2002)

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
    s, k, t, r, b, v, v2, beta = (a[index] for a in (s, k, t, r, b, v, v2, beta))
    b_inf = beta / (beta - 1.0) * k
    b_0 = np.maximum(k, r / (r - b) * k)
    t1 = _T1_RATIO * t
    scale = k * k / ((b_inf - b_0) * b_0)
    h1 = -(b * t1 + 2.0 * v * np.sqrt(t1)) * scale
    h2 = -(b * t + 2.0 * v * np.sqrt(t)) * scale
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


def _american_price(sign, u, k, t, r, b, v) -> np.ndarray:
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


class _American:
    def __init__(self, underlying: AmericanUnderlying):
        self.on_futures = underlying == "futures"

    def carry(self, r, q):
        return np.zeros_like(r) if self.on_futures else r - q

    def greeks(self, inputs: _Inputs) -> list[np.ndarray]:
        sign, u, k, t, r, q, v = (inputs.full(n) for n in ("sign", "underlying", "strike", "t", "r", "q", "sigma"))
        n = inputs.size
        outs = [np.full(n, np.nan) for _ in range(5)]
        with np.errstate(all="ignore"):
            valid = _valid_mask(sign, u, k, t, r, q, v)
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
        prices = _american_price(
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

    def implied_vol(self, inputs: _Inputs) -> np.ndarray:
        price, sign, u, k, t, r, q = (inputs.full(n) for n in ("price", "sign", "underlying", "strike", "t", "r", "q"))
        out = np.full(inputs.size, np.nan)
        with np.errstate(all="ignore"):
            valid = _valid_mask(sign, u, k, t, r, q, price=price, positive_t=True)
        index = np.nonzero(valid)[0]
        if index.size == 0:
            return out.reshape(inputs.shape)
        price, sign, u, k, t, r, q = (a[index] for a in (price, sign, u, k, t, r, q))
        b = self.carry(r, q)

        def excess(vol, subset):
            return _american_price(sign[subset], u[subset], k[subset], t[subset], r[subset], b[subset], vol) - price[subset]

        everything = np.arange(index.size)
        floor = excess(np.zeros(index.size), everything)           # < 0 needed: some time value
        cap = np.where(sign > 0, u, k)  # an American call is worth less than its underlying, a put than its strike
        solvable = (floor < 0.0) & (price < cap)
        # The European implied vol bounds the American one from above (American >= European at every vol).
        european = _european_implied_vol(_Inputs.build(
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


# --------------------------------------------------------------------------- public service

class GreeksCalculator:
    """Prices, Greeks and implied volatilities under one model (see the module docstring)."""

    def __init__(self, model: Model = "black76", *, american_underlying: AmericanUnderlying = "futures"):
        if model not in ("black76", "bs", "american"):
            raise ValueError(f"unknown model {model!r}; expected 'black76', 'bs' or 'american'")
        if american_underlying not in ("futures", "spot"):
            raise ValueError(f"unknown american_underlying {american_underlying!r}; expected 'futures' or 'spot'")
        self.model: Model = model
        self.american_underlying: AmericanUnderlying = american_underlying
        self._american = _American(american_underlying)

    def __repr__(self) -> str:
        extra = f", american_underlying={self.american_underlying!r}" if self.model == "american" else ""
        return f"GreeksCalculator(model={self.model!r}{extra})"

    def calculate_batch(self, option_type, underlying, strike, t, r, sigma, q=0.0) -> GreeksBatch:
        inputs = _Inputs.build(sign=option_type, underlying=underlying, strike=strike, t=t, r=r, q=q, sigma=sigma)
        if self.model == "american":
            outs = self._american.greeks(inputs)
        else:
            if self.model == "black76":
                inputs.values["q"] = inputs.values["r"]  # Black-76 is Black-Scholes with q = r on F
            outs = _european_batch(inputs, black=self.model == "black76")
        return GreeksBatch(*(o.reshape(inputs.shape) for o in outs))

    def calculate(self, option_type, underlying, strike, t, r, sigma, q=0.0) -> GreeksResult:
        """Greeks of one option; raises ValueError when its inputs cannot be priced."""
        for name, value in (("underlying", underlying), ("strike", strike), ("t", t), ("r", r),
                            ("sigma", sigma), ("q", q)):
            if np.ndim(value) != 0:
                raise ValueError(f"calculate takes scalars; {name} has shape {np.shape(value)}")
        batch = self.calculate_batch(option_type, underlying, strike, t, r, sigma, q)
        if not bool(batch.valid().all()):
            raise ValueError(
                f"cannot price option_type={option_type!r} underlying={underlying} strike={strike} "
                f"t={t} r={r} sigma={sigma} q={q}")
        return batch.at(())

    def price_batch(self, option_type, underlying, strike, t, r, sigma, q=0.0) -> np.ndarray:
        """Premiums only (the same numbers as ``calculate_batch(...).price``)."""
        if self.model != "american":
            return self.calculate_batch(option_type, underlying, strike, t, r, sigma, q).price
        inputs = _Inputs.build(sign=option_type, underlying=underlying, strike=strike, t=t, r=r, q=q, sigma=sigma)
        sign, u, k, tt, rr, qq, v = (inputs.full(n) for n in ("sign", "underlying", "strike", "t", "r", "q", "sigma"))
        out = np.full(inputs.size, np.nan)
        with np.errstate(all="ignore"):
            valid = _valid_mask(sign, u, k, tt, rr, qq, v)
        i = np.nonzero(valid)[0]
        if i.size:
            out[i] = _american_price(sign[i], u[i], k[i], tt[i], rr[i], self._american.carry(rr[i], qq[i]), v[i])
        return out.reshape(inputs.shape)

    def implied_volatility_batch(self, price, option_type, underlying, strike, t, r, q=0.0) -> np.ndarray:
        """Volatility that reproduces each price; NaN where none does.

        NaN for: a price at or below the option's lowest value (intrinsic value,
        so zero time value too), at or above the no-arbitrage upper bound
        (discounted forward for a call, discounted strike for a put), t <= 0, or
        any non-finite / non-positive input. Never raises on values; only shapes
        that do not broadcast raise ValueError.
        """
        inputs = _Inputs.build(price=price, sign=option_type, underlying=underlying, strike=strike, t=t, r=r, q=q)
        if self.model == "american":
            return self._american.implied_vol(inputs)
        if self.model == "black76":
            inputs.values["q"] = inputs.values["r"]
        return _european_implied_vol(inputs, black=self.model == "black76")

    def implied_volatility(self, price, option_type, underlying, strike, t, r, q=0.0) -> float:
        """Scalar form of ``implied_volatility_batch`` (NaN when no volatility reproduces the price)."""
        return float(np.asarray(self.implied_volatility_batch(price, option_type, underlying, strike, t, r, q)).reshape(-1)[0])
