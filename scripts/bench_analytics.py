"""Options per second of GreeksCalculator (Black-76) against two references, on one core.

    .venv/bin/python scripts/bench_analytics.py [--sizes 1000 100000 1000000]

- ours: ``GreeksCalculator("black76").calculate_batch`` (price + 4 Greeks) and
  ``implied_volatility_batch``.
- numpy reference: a plain vectorized Black-76 with ``scipy.stats.norm``
  (Greeks), and a plain vectorized Newton iteration on sigma from 0.3 with a
  bisection fallback (IV), as one would write them without tuning.
- py_vollib: its per-option functions (``black`` + ``greeks.analytical`` for
  Greeks, Let's Be Rational for IV) in a Python loop over a random subsample;
  the per-option rate is extrapolated to N, and the output says so.

The process is pinned to one core and BLAS/OpenMP are limited to one thread
before numpy is imported. Each figure is the best of several runs.
"""
from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator  # noqa: E402

FORWARD = 100.0
RATE = 0.02


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
        return "pinned to core 0"
    return "not pinned (sched_setaffinity unavailable)"


def sample(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    sign = rng.choice([1.0, -1.0], n)
    strike = FORWARD * rng.uniform(0.7, 1.3, n)
    t = np.exp(rng.uniform(np.log(1 / 365), np.log(2.0), n))
    vol = rng.uniform(0.05, 1.0, n)
    return sign, strike, t, vol


def best_time(func, repeats: int) -> float:
    func()  # warm-up: caches, page faults of first allocations
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


# ----------------------------------------------------------------------------- numpy references

def numpy_black76_greeks(sign, forward, strike, t, r, vol):
    sqrt_t = np.sqrt(t)
    d1 = (np.log(forward / strike) + 0.5 * vol ** 2 * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc = np.exp(-r * t)
    price = disc * sign * (forward * norm.cdf(sign * d1) - strike * norm.cdf(sign * d2))
    delta = disc * sign * norm.cdf(sign * d1)
    gamma = disc * norm.pdf(d1) / (forward * vol * sqrt_t)
    vega = disc * forward * norm.pdf(d1) * sqrt_t
    theta = -disc * forward * norm.pdf(d1) * vol / (2 * sqrt_t) + r * price
    return price, delta, gamma, vega, theta


def numpy_black76_iv(price, sign, forward, strike, t, r, iterations=50):
    """Newton on sigma from 0.3, falling back to bisection on [1e-4, 5] when a step leaves the bracket."""
    disc = np.exp(-r * t)
    sqrt_t = np.sqrt(t)
    sigma = np.full_like(price, 0.3)
    low, high = np.full_like(price, 1e-4), np.full_like(price, 5.0)
    for _ in range(iterations):
        d1 = (np.log(forward / strike) + 0.5 * sigma ** 2 * t) / (sigma * sqrt_t)
        d2 = d1 - sigma * sqrt_t
        model = disc * sign * (forward * norm.cdf(sign * d1) - strike * norm.cdf(sign * d2))
        vega = disc * forward * norm.pdf(d1) * sqrt_t
        diff = model - price
        high = np.where(diff > 0, sigma, high)
        low = np.where(diff <= 0, sigma, low)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = sigma - diff / vega
        sigma = np.where((step > low) & (step < high), step, 0.5 * (low + high))
        if np.all(np.abs(diff) < 1e-12 * forward):
            break
    return sigma


# ----------------------------------------------------------------------------- py_vollib

def py_vollib_functions():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from py_vollib.black import black
            from py_vollib.black.greeks.analytical import delta, gamma, theta, vega
            from py_vollib.black.implied_volatility import implied_volatility
        except ImportError:
            return None
    return black, delta, gamma, vega, theta, implied_volatility


def py_vollib_rate(func, count: int) -> float:
    start = time.perf_counter()
    func()
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--subsample", type=int, default=2_000, help="options in the py_vollib loops")
    args = parser.parse_args(argv)

    pinning = pin_to_one_core()
    calc = GreeksCalculator("black76")
    vollib = py_vollib_functions()
    print(f"numpy {np.__version__}, one core ({pinning}); options/second, best of several runs")
    print("inputs: F=100, K/F in [0.7, 1.3], T in [1 day, 2 years] log-uniform, vol in [5%, 100%], calls and puts")
    if vollib is None:
        print("py_vollib is not installed: its columns are empty")
    else:
        print(f"py_vollib: a Python loop over {args.subsample} random options of the sample, per-option rate "
              "extrapolated to N (it is a per-option library, so N does not change its rate)")

    vollib_greeks = vollib_iv = None
    if vollib is not None:
        black, delta, gamma, vega, theta, implied_volatility = vollib
        sign, strike, t, vol = sample(args.subsample, seed=1)
        flags = np.where(sign > 0, "c", "p")
        prices = calc.calculate_batch(sign, FORWARD, strike, t, RATE, vol).price
        sub_meaningful = prices - np.maximum(sign * (FORWARD - strike), 0.0) * np.exp(-RATE * t) >= 1e-6 * FORWARD

        def greeks_loop():
            for i in range(args.subsample):
                f, k, tt, v = flags[i], strike[i], t[i], vol[i]
                black(f, FORWARD, k, tt, RATE, v)
                delta(f, FORWARD, k, tt, RATE, v)
                gamma(f, FORWARD, k, tt, RATE, v)
                vega(f, FORWARD, k, tt, RATE, v)
                theta(f, FORWARD, k, tt, RATE, v)

        errors = []

        def iv_loop():
            for i in range(args.subsample):
                try:
                    value = implied_volatility(prices[i], FORWARD, strike[i], RATE, t[i], flags[i])
                except Exception:  # LBR raises on prices it considers below intrinsic / above maximum
                    value = float("nan")
                errors.append(abs(value - vol[i]))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vollib_greeks = py_vollib_rate(greeks_loop, args.subsample)
            vollib_iv = py_vollib_rate(iv_loop, args.subsample)
        vollib_iv_error = float(np.nanmax(np.array(errors)[sub_meaningful]))
        vollib_failures = int(np.sum(~np.isfinite(np.array(errors)[sub_meaningful])))

    rows = []
    for n in args.sizes:
        sign, strike, t, vol = sample(n)
        repeats = 20 if n <= 10_000 else 5 if n <= 200_000 else 3
        ours = n / best_time(lambda: calc.calculate_batch(sign, FORWARD, strike, t, RATE, vol), repeats)
        reference = n / best_time(lambda: numpy_black76_greeks(sign, FORWARD, strike, t, RATE, vol), repeats)
        rows.append(("Greeks", n, ours, reference, vollib_greeks, None, None))

        prices = calc.calculate_batch(sign, FORWARD, strike, t, RATE, vol).price
        ours_iv = n / best_time(lambda: calc.implied_volatility_batch(prices, sign, FORWARD, strike, t, RATE), repeats)
        implied = calc.implied_volatility_batch(prices, sign, FORWARD, strike, t, RATE)
        time_value = prices - np.maximum(sign * (FORWARD - strike), 0.0) * np.exp(-RATE * t)
        meaningful = time_value >= 1e-6 * FORWARD
        ours_error = float(np.max(np.abs(implied[meaningful] - vol[meaningful])))
        with np.errstate(all="ignore"):
            reference_iv = n / best_time(lambda: numpy_black76_iv(prices, sign, FORWARD, strike, t, RATE),
                                         max(1, repeats // 2))
            reference_implied = numpy_black76_iv(prices, sign, FORWARD, strike, t, RATE)
        reference_error = float(np.nanmax(np.abs(reference_implied[meaningful] - vol[meaningful])))
        rows.append(("IV", n, ours_iv, reference_iv, vollib_iv, ours_error, reference_error))

    print()
    print(f"{'what':7s} {'N':>9s} {'ours':>14s} {'numpy ref':>14s} {'py_vollib*':>12s} {'x numpy':>8s} "
          f"{'x vollib':>9s}  max |IV err| ours / numpy ref")
    for what, n, ours, reference, vollib_rate, ours_error, reference_error in rows:
        vollib_text = f"{vollib_rate:12,.0f}" if vollib_rate else f"{'-':>12s}"
        ratio = f"{ours / vollib_rate:9.0f}" if vollib_rate else f"{'-':>9s}"
        errors = f"  {ours_error:.1e} / {reference_error:.1e}" if ours_error is not None else ""
        print(f"{what:7s} {n:9,d} {ours:14,.0f} {reference:14,.0f} {vollib_text} {ours / reference:8.1f} {ratio}{errors}")
    if vollib is not None:
        print(f"* py_vollib per-option rate from a loop over {args.subsample} options, extrapolated; its largest "
              f"|IV error| there: {vollib_iv_error:.1e} ({vollib_failures} raised or gave NaN)")
    print("IV errors are over options whose time value is at least 1e-6 of the forward")

    print()
    targets = []
    greeks_1m = next((r for r in rows if r[0] == "Greeks" and r[1] == 1_000_000), None)
    iv_100k = next((r for r in rows if r[0] == "IV" and r[1] == 100_000), None)
    if greeks_1m:
        targets.append(("Greeks >= 15M options/s at N=1M", greeks_1m[2] >= 15e6))
        if vollib_greeks:
            targets.append(("Greeks >= 100x py_vollib", greeks_1m[2] >= 100 * vollib_greeks))
    if iv_100k:
        targets.append(("IV >= 1.5M options/s at N=100k", iv_100k[2] >= 1.5e6))
        if vollib_iv:
            targets.append(("IV >= 25x py_vollib", iv_100k[2] >= 25 * vollib_iv))
    for name, met in targets:
        print(f"target {name}: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
