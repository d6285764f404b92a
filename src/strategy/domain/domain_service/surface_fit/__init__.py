"""Smile fitting behind ``VolSurfaceBuilder``: raw SVI, the band-constrained correction, the arbitrage report."""
