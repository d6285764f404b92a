"""Market data sources: the synthetic sample market and the vendor feeds.

Nothing here imports the strategy entry, the application layer, the processes
(``src.main``) or the backtester: those import the feeds, never the other way.
"""
