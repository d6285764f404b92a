"""European prices and Greeks (Black-76 and Black-Scholes-Merton), vectorized in cache-sized chunks."""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from src.strategy.domain.domain_service.pricing.inputs import CHUNK, INV_SQRT_2PI, Inputs

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

    sqrt_t *= INV_SQRT_2PI
    np.multiply(a, dens, out=vega)
    vega *= sqrt_t

    np.multiply(dq, dens, out=gamma)
    np.multiply(u, s, out=tmp)
    gamma /= tmp
    gamma *= INV_SQRT_2PI

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


def european_batch(inputs: Inputs, black: bool, chunk: int = CHUNK) -> list[np.ndarray]:
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

