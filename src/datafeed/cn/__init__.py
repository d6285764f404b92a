"""Chinese vendors: Tushare Pro (through vnpy_tushare) and AKShare, for CFFEX futures and options and ETF options."""
