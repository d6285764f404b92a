"""The one home of the exchanges' clock: their time zone and the length of the shortest trading day.

Every mainland exchange (CFFEX, SHFE, DCE, CZCE, INE, GFEX, SSE, SZSE) trades on
Beijing time, so bars, expiries, sessions and the database all use
``EXCHANGE_TIMEZONE``. ``TRADING_MINUTES_PER_DAY`` is the day session of index
futures and options (9:30-11:30 and 13:00-15:00, 4 hours), the shortest of any
product: dividing a lookback in minutes by it gives the most days it can span.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

EXCHANGE_TIMEZONE_NAME = "Asia/Shanghai"
EXCHANGE_TIMEZONE = ZoneInfo(EXCHANGE_TIMEZONE_NAME)

TRADING_MINUTES_PER_DAY = 240
