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

This module is the service; the numerics live in ``pricing/``: ``inputs``
(option signs, broadcasting, validity), ``european`` (Black-76/BSM prices and
Greeks), ``implied_vol`` (European implied volatility) and ``american``
(Bjerksund-Stensland prices, Greeks and implied volatility).
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from src.strategy.domain.domain_service.pricing.american import AmericanModel, AmericanUnderlying
from src.strategy.domain.domain_service.pricing.european import european_batch
from src.strategy.domain.domain_service.pricing.implied_vol import (
    european_implied_vol,
    normalized_implied_total_vol,
)
from src.strategy.domain.domain_service.pricing.inputs import Inputs, option_sign
from src.strategy.domain.value_object.greeks import GreeksBatch, GreeksResult

__all__ = ["AmericanUnderlying", "GreeksCalculator", "Model", "normalized_implied_total_vol", "option_sign"]

Model = Literal["black76", "bs", "american"]


class GreeksCalculator:
    """Prices, Greeks and implied volatilities under one model (see the module docstring)."""

    def __init__(self, model: Model = "black76", *, american_underlying: AmericanUnderlying = "futures"):
        if model not in ("black76", "bs", "american"):
            raise ValueError(f"unknown model {model!r}; expected 'black76', 'bs' or 'american'")
        if american_underlying not in ("futures", "spot"):
            raise ValueError(f"unknown american_underlying {american_underlying!r}; expected 'futures' or 'spot'")
        self.model: Model = model
        self.american_underlying: AmericanUnderlying = american_underlying
        self._american = AmericanModel(american_underlying)

    def __repr__(self) -> str:
        extra = f", american_underlying={self.american_underlying!r}" if self.model == "american" else ""
        return f"GreeksCalculator(model={self.model!r}{extra})"

    def calculate_batch(self, option_type, underlying, strike, t, r, sigma, q=0.0) -> GreeksBatch:
        inputs = Inputs.build(sign=option_type, underlying=underlying, strike=strike, t=t, r=r, q=q, sigma=sigma)
        if self.model == "american":
            outs = self._american.greeks(inputs)
        else:
            if self.model == "black76":
                inputs.values["q"] = inputs.values["r"]  # Black-76 is Black-Scholes with q = r on F
            outs = european_batch(inputs, black=self.model == "black76")
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
        inputs = Inputs.build(sign=option_type, underlying=underlying, strike=strike, t=t, r=r, q=q, sigma=sigma)
        return self._american.prices(inputs).reshape(inputs.shape)

    def implied_volatility_batch(self, price, option_type, underlying, strike, t, r, q=0.0) -> np.ndarray:
        """Volatility that reproduces each price; NaN where none does.

        NaN for: a price at or below the option's lowest value (intrinsic value,
        so zero time value too), at or above the no-arbitrage upper bound
        (discounted forward for a call, discounted strike for a put), t <= 0, or
        any non-finite / non-positive input. Never raises on values; only shapes
        that do not broadcast raise ValueError.
        """
        inputs = Inputs.build(price=price, sign=option_type, underlying=underlying, strike=strike, t=t, r=r, q=q)
        if self.model == "american":
            return self._american.implied_vol(inputs)
        if self.model == "black76":
            inputs.values["q"] = inputs.values["r"]
        return european_implied_vol(inputs, black=self.model == "black76")

    def implied_volatility(self, price, option_type, underlying, strike, t, r, q=0.0) -> float:
        """Scalar form of ``implied_volatility_batch`` (NaN when no volatility reproduces the price)."""
        return float(np.asarray(self.implied_volatility_batch(price, option_type, underlying, strike, t, r, q)).reshape(-1)[0])
