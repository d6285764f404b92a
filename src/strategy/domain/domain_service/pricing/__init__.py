"""Numerics behind ``GreeksCalculator``: input handling, European kernels, implied volatility, American options."""
