"""The application layer: the trading cycle over domain values and ports, its bootstrap and message bus."""
