"""Series the local OpenD serves, derived from Cboe's real daily put/call volumes (2006-11 .. 2019-10).

- US_SECURITY volume: Cboe equity options, on their own dates; US_INDEX volume: Cboe index options.
- HK_SECURITY / HK_INDEX volume: the same Cboe rows scaled down and laid, in order, on the Hong Kong
  exchange's trading days (exchange_calendars XHKG) from 2006-11-01, so HK has its own calendar.
- OPEN_INTEREST: per side, open interest decays 4 % a day and adds 80 % of the day's volume, a smooth
  build-up in the range of the real thing (about 20 days of volume).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from src.datafeed.cboe_putcall import read_cboe_putcall
from tests.integration.datafeed.futu.local_opend import StatisticPoint

US_SECURITY, US_INDEX, HK_SECURITY, HK_INDEX = 1, 2, 3, 4
VOLUME, OPEN_INTEREST = 0, 1
HK_SCALE = {HK_SECURITY: 0.35, HK_INDEX: 0.12}


def hk_sessions(start: date, count: int) -> list[date]:
    import exchange_calendars

    calendar = exchange_calendars.get_calendar("XHKG", start="2006-01-01", end="2027-12-31")
    sessions = [session.date() for session in calendar.sessions if session.date() >= start]
    return sessions[:count]


def open_interest(points: list[StatisticPoint]) -> list[StatisticPoint]:
    call_oi = put_oi = None
    result = []
    for point in points:
        call_oi = point.call_value * 20 if call_oi is None else call_oi * 0.96 + point.call_value * 0.8
        put_oi = point.put_value * 20 if put_oi is None else put_oi * 0.96 + point.put_value * 0.8
        result.append(StatisticPoint(point.trade_date, int(call_oi), int(put_oi)))
    return result


def cboe_series(putcall_folder: Path) -> dict[tuple[int, int], list[StatisticPoint]]:
    equity = read_cboe_putcall(putcall_folder / "equitypc.csv").rows
    index = read_cboe_putcall(putcall_folder / "indexpc.csv").rows
    volume = {
        US_SECURITY: [StatisticPoint(r.trade_date, r.call_value, r.put_value) for r in equity],
        US_INDEX: [StatisticPoint(r.trade_date, r.call_value, r.put_value) for r in index],
    }
    for market, rows in ((HK_SECURITY, equity), (HK_INDEX, index)):
        days = hk_sessions(rows[0].trade_date, len(rows))
        scale = HK_SCALE[market]
        volume[market] = [StatisticPoint(day, int(r.call_value * scale), int(r.put_value * scale))
                          for day, r in zip(days, rows, strict=False)]
    series = {}
    for market, points in volume.items():
        series[(market, VOLUME)] = points
        series[(market, OPEN_INTEREST)] = open_interest(points)
    return series
