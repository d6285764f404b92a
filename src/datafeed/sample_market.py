"""A SYNTHETIC CFFEX market for offline backtests: IF/IM futures and IO/MO option chains.

Nothing here is real market data. The generator is deterministic for a given
(start, end, seed) and writes 1-minute bars through vnpy's database layer, so
the backtester, the recorder's readers and the dashboard see it exactly like
recorded data.

What it models
--------------
- Time: the real trading days of the exchange calendar and the CFFEX index
  sessions (minute bars 09:30-11:29 and 13:00-14:59, stamped with the bar's
  start, Asia/Shanghai).
- Index level: a geometric random walk per product with a daily regime (range,
  up-trend, down-trend) that sets drift and volatility, intraday trend bursts,
  rare jumps, overnight gaps and a U-shaped intraday volatility, so trend
  signals fire on 15-minute bars.
- Futures: every contract the ``SymbolGenerator`` lists (this month, next month,
  two quarter months) at ``F = S exp(-carry T + e)``: a discount to the index
  that shrinks to zero at expiry (``carry`` per product) plus a small
  mean-reverting noise ``e`` of about a tick, so neighbouring months differ by a
  small basis. Volume and open interest concentrate in the front month until
  about three trading days before its expiry, then move to the next month, so a
  dominant-contract selector rolls.
- Options: IO on IF and MO on IM, the two nearest monthly expiries alive each
  day (a month joins the sample when it becomes one of those two), strikes on
  the CFFEX spacing covering the futures' range plus ten strikes beyond each
  side. Mid prices are Black-76 on the same-month future (``GreeksCalculator``)
  with a skewed smile (puts richer), a term structure that is inverted when the
  short-dated level is above the long-run one, and a level that rises when the
  index falls. Quotes are a few ticks wide, wider in the wings and for
  expensive options; trades print at the bid or the ask, so bars bounce across
  the spread. Trades per minute follow a liquidity model (busy near the money,
  sparse in the wings, quieter for the second expiry); a bar is written only for
  minutes with volume, as vnpy's portfolio engine fills quiet minutes itself.
- A contract has no bars after its expiry day.
- Quotes (``generate_sample_market(quotes=True)``, off by default): every
  contract's quote for each minute it is listed, trades or not (``SampleMarket.
  quotes``, ``quote_at``): for an option the quote its first print of the minute
  is at the bid or the ask of (the close's when it traded once), for a future one
  tick wide around the minute's opening price, with sizes shown that grow towards
  the money. They come from random streams of their own, so the bars are the
  same with or without them; the backtest (``--sample-quotes``) and the replay
  (``--replay-quotes``) regenerate them in memory from the recorded generation
  (``regenerate_with_quotes``) rather than storing them.

Every generation is recorded in the database's ``synthetic_market`` table
(``src.datafeed.synthetic_marker``): the backtest and the replay print
SYNTHETIC for these bars, and the generator never writes into a database that
holds real bars of IF, IM, IO or MO.
"""
from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from types import MappingProxyType

import numpy as np
from scipy.signal import lfilter
from tqdm import tqdm
from vnpy.trader.constant import Exchange, Interval, OptionType
from vnpy.trader.database import BaseDatabase
from vnpy.trader.object import BarData, ContractData

from src.core.contract.product_spec import DEFAULT_PRODUCT_SPECS
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.core.contract.contract_registry import ContractFactory, ContractRegistry
from src.core.contract.exchange_resolver import ExchangeResolver
from src.core.contract.expiry_calculator import (
    ExpiryCalculator,
    TradingDayCalendar,
)
from src.core.contract.symbol_generator import DateRangeError, SymbolGenerator
from src.core.config.errors import UserInputError
from src.datafeed.synthetic_marker import bar_holdings, record_generation, refuse_if_real, synthetic_windows
from src.strategy.domain.domain_service.fill_model import Quote
from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.value_object.trading_session import (
    CHINA_TRADING_SESSIONS,
    product_code,
)
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from src.core.contract.contract_helper import ContractHelper, ContractMonth

DEFAULT_START = date(2026, 1, 5)
DEFAULT_END = date(2026, 2, 6)
DEFAULT_SEED = 20260105
RISK_FREE_RATE = 0.015
GATEWAY_NAME = "SAMPLE"
SAMPLE_PRODUCTS = ("IF", "IM")
OPTION_EXPIRIES_ALIVE = 2
STRIKES_BEYOND_RANGE = 10
DEFAULT_SAVE_BATCH = 20_000
REPORT_EVERY_SECONDS = 5.0

_SECONDS_PER_YEAR = 365.0 * 24 * 3600
_MIN_YEARS_TO_EXPIRY = 60.0 / _SECONDS_PER_YEAR
# Shortest maturity the smile's moneyness is scaled by: keeps the last week's wings finite.
_SMILE_MIN_YEARS = 1.0 / 52
_RANGE, _UP, _DOWN = 0, 1, 2


class SampleMarketError(UserInputError):
    """The sample market cannot be built for the asked window."""


@dataclass(frozen=True)
class ProductModel:
    """Parameters of one synthetic index, its futures and its options."""

    future_product: str
    option_product: str
    index_start: float
    carry: float                      # annual discount of futures to the index
    daily_vol: float                  # daily volatility of the index in a range regime
    atm_vol: float                    # long-run at-the-money implied volatility
    skew: float                       # d(vol)/d(moneyness) in units of atm vol
    curvature: float
    spot_vol_beta: float              # relative rise of implied vol per unit fall of log index
    futures_daily_volume: float
    futures_open_interest: float
    option_trades_per_minute: float   # at the money, nearest expiry
    option_open_interest: float       # at the money, nearest expiry
    strike_bands: tuple[tuple[float, float], ...]  # (up to this strike, spacing)


PRODUCT_MODELS: Mapping[str, ProductModel] = MappingProxyType({
    "IF": ProductModel("IF", "IO", index_start=4612.0, carry=0.025, daily_vol=0.0085, atm_vol=0.17,
                       skew=-0.35, curvature=0.9, spot_vol_beta=2.5, futures_daily_volume=95_000,
                       futures_open_interest=260_000, option_trades_per_minute=3.0,
                       option_open_interest=3_000,
                       strike_bands=((2500, 25), (5000, 50), (10000, 100), (math.inf, 200))),
    "IM": ProductModel("IM", "MO", index_start=7580.0, carry=0.09, daily_vol=0.0125, atm_vol=0.24,
                       skew=-0.30, curvature=0.8, spot_vol_beta=2.0, futures_daily_volume=170_000,
                       futures_open_interest=340_000, option_trades_per_minute=2.6,
                       option_open_interest=2_500,
                       strike_bands=((2500, 25), (5000, 50), (10000, 100), (20000, 200), (math.inf, 400))),
})

# Daily regime chain: (drift per day in daily vols, volatility multiplier, implied-vol multiplier).
_REGIMES = {_RANGE: (0.0, 1.0, 1.0), _UP: (0.55, 1.0, 0.92), _DOWN: (-0.6, 1.35, 1.2)}
_REGIME_TRANSITIONS = np.array([[0.60, 0.20, 0.20],
                                [0.25, 0.70, 0.05],
                                [0.25, 0.05, 0.70]])
# Fraction of the distance back to the starting level recovered per day (by drift).
_ANCHOR_PULL = 0.15
# Share of the day's futures volume / open interest by position in the listing
# (front, next, first quarter, second quarter), keyed by the front's trading
# days left until expiry (0 = its expiry day); beyond the table: the last row.
_FRONT_VOLUME_SHARE = (0.12, 0.20, 0.30, 0.45, 0.68, 0.80)
_FRONT_OI_SHARE = (0.12, 0.25, 0.38, 0.50, 0.62, 0.72)
_QUARTER_VOLUME_SHARES = (0.06, 0.02)
_QUARTER_OI_SHARES = (0.07, 0.03)


@dataclass(frozen=True)
class _Series:
    """The bars of one contract as arrays; ``minute`` indexes the market's minute grid."""

    symbol: str
    exchange: Exchange
    minute: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    turnover: np.ndarray
    open_interest: np.ndarray

    def __len__(self) -> int:
        return int(self.minute.size)


@dataclass(frozen=True)
class QuoteSeries:
    """The quote of one contract at the start of every minute it is listed: ``minute`` indexes the market's
    minute grid; a bid of 0 means no bid (a wing quoted below one tick)."""

    minute: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray

    def __len__(self) -> int:
        return int(self.minute.size)


@dataclass(frozen=True)
class _FuturePath:
    """A futures contract's unrounded minute prices (what its options are priced on) and its listed minutes."""

    symbol: str
    alive: np.ndarray
    prices: dict[str, np.ndarray]


class _BarLists(Mapping[str, list[BarData]]):
    """vt_symbol -> that contract's bars; every lookup builds new BarData objects.

    Fresh objects because vnpy's database drivers rewrite the bars they save
    (timezone, exchange turned into text), and because 500k BarData held at
    once would cost far more memory than the arrays they come from.
    """

    def __init__(self, series: Mapping[str, _Series], datetimes: Sequence[datetime]) -> None:
        self._series = series
        self._datetimes = datetimes

    def __getitem__(self, vt_symbol: str) -> list[BarData]:
        series = self._series[vt_symbol]
        datetimes = self._datetimes
        symbol, exchange = series.symbol, series.exchange
        columns = zip(series.minute.tolist(), series.open.tolist(), series.high.tolist(),
                      series.low.tolist(), series.close.tolist(), series.volume.tolist(),
                      series.turnover.tolist(), series.open_interest.tolist())
        return [
            BarData(symbol=symbol, exchange=exchange, datetime=datetimes[minute], interval=Interval.MINUTE,
                    volume=volume, turnover=turnover, open_interest=oi, open_price=o, high_price=h,
                    low_price=low, close_price=c, gateway_name=GATEWAY_NAME)
            for minute, o, h, low, c, volume, turnover, oi in columns
        ]

    def __iter__(self) -> Iterator[str]:
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._series)


@dataclass(frozen=True, eq=False)
class SampleMarket:
    """A generated market: bars per vt_symbol, the contracts, and the registry entries."""

    start: date
    end: date
    seed: int
    trading_days: tuple[date, ...] = field(repr=False)
    minute_datetimes: tuple[datetime, ...] = field(repr=False)
    risk_free_rate: float
    contracts: Mapping[str, ContractData] = field(repr=False)
    registry: ContractRegistry = field(repr=False)
    _series: Mapping[str, _Series] = field(repr=False)
    # vt_symbol -> its quote at the start of each listed minute; only with ``generate_sample_market(quotes=True)``
    quotes: Mapping[str, QuoteSeries] | None = field(default=None, repr=False)

    @property
    def bars(self) -> Mapping[str, list[BarData]]:
        return _BarLists(self._series, self.minute_datetimes)

    @property
    def vt_symbols(self) -> list[str]:
        return list(self._series)

    @property
    def bar_count(self) -> int:
        return sum(len(series) for series in self._series.values())

    def bar_counts(self) -> dict[str, int]:
        return {vt_symbol: len(series) for vt_symbol, series in self._series.items()}

    def futures(self, product: str) -> list[str]:
        """vt_symbols of a futures product, nearest month first."""
        infos = [info for info in self.registry.futures() if info.product == product]
        return [info.vt_symbol for info in sorted(infos, key=lambda info: info.contract_month)]

    def options(self, underlying_vt_symbol: str) -> list[str]:
        return [info.vt_symbol for info in self.registry.options_of(underlying_vt_symbol)]

    @cached_property
    def _minute_index(self) -> dict[datetime, int]:
        return {moment: index for index, moment in enumerate(self.minute_datetimes)}

    def quotes_between(self, vt_symbol: str, start: datetime, end: datetime) -> list[tuple[datetime, Quote]]:
        """The contract's quote of every listed minute in ``[start, end]``, in time order."""
        series = self.quotes.get(vt_symbol) if self.quotes is not None else None
        if series is None:
            return []
        moments = self.minute_datetimes
        first = bisect.bisect_left(moments, start)
        last = bisect.bisect_right(moments, end)
        low, high = int(series.minute.searchsorted(first)), int(series.minute.searchsorted(last))
        return [(moments[int(series.minute[i])], Quote(float(series.bid[i]), float(series.ask[i]),
                                                        float(series.bid_size[i]), float(series.ask_size[i])))
                for i in range(low, high)]

    def quote_at(self, vt_symbol: str, minute: datetime) -> Quote | None:
        """The contract's quote during the minute starting at ``minute`` (None without a quote table, or when
        the contract is not listed then)."""
        if self.quotes is None:
            return None
        series = self.quotes.get(vt_symbol)
        index = self._minute_index.get(minute)
        if series is None or index is None:
            return None
        position = int(series.minute.searchsorted(index))
        if position >= len(series) or series.minute[position] != index:
            return None
        return Quote(float(series.bid[position]), float(series.ask[position]), float(series.bid_size[position]),
                     float(series.ask_size[position]))


# --------------------------------------------------------------------------- time grid

def _session_minutes() -> list[tuple[int, int]]:
    schedule = CHINA_TRADING_SESSIONS.schedule("CFFEX", "IF")
    minutes: list[tuple[int, int]] = []
    for session in schedule.sessions:
        first = session.start.hour * 60 + session.start.minute
        minutes.extend(divmod(first + offset, 60) for offset in range(session.duration_minutes))
    return minutes


def _intraday_activity(session_minutes: Sequence[tuple[int, int]]) -> np.ndarray:
    """Relative trading activity by minute of the day: high at the open, the lunch reopen and the close; mean 1."""
    minute_of_day = np.array([hour * 60 + minute for hour, minute in session_minutes], dtype=float)
    offset = np.arange(len(session_minutes), dtype=float)
    reopen = np.where(minute_of_day >= 13 * 60, minute_of_day - 13 * 60, np.inf)
    activity = (1.0 + 1.6 * np.exp(-offset / 12.0) + 0.5 * np.exp(-reopen / 10.0)
                + 0.9 * np.exp(-(offset[-1] - offset) / 15.0))
    return activity / activity.mean()


# --------------------------------------------------------------------------- generation

class _Generator:
    def __init__(self, start: date, end: date, seed: int, calendar: TradingDayCalendar, quotes: bool = False) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SampleMarketError(f"sample market: seed must be a non-negative integer, got {seed!r}")
        self.start, self.end, self.seed = start, end, seed
        self.resolver = ExchangeResolver()
        self.expiry = ExpiryCalculator(calendar, self.resolver)
        self.symbols = SymbolGenerator(self.expiry)
        self.factory = ContractFactory(self.expiry, DEFAULT_PRODUCT_SPECS, self.resolver, ContractHelper(start.year))
        self.calculator = GreeksCalculator(model="black76")
        try:
            self.days = self.symbols.trading_days(start, end)
        except DateRangeError as exc:
            raise SampleMarketError(f"sample market: {exc}") from None
        if not self.days:
            raise SampleMarketError(f"sample market: no trading days between {start} and {end}")
        session = _session_minutes()
        self.minutes_per_day = len(session)
        self.activity = np.tile(_intraday_activity(session), len(self.days))
        self.datetimes = tuple(
            datetime(day.year, day.month, day.day, hour, minute, tzinfo=EXCHANGE_TIMEZONE)
            for day in self.days for hour, minute in session)
        self.bar_end_seconds = np.array([moment.timestamp() + 60.0 for moment in self.datetimes])
        self.day_of_minute = np.repeat(np.arange(len(self.days)), self.minutes_per_day)
        self.series: dict[str, _Series] = {}
        self.registry = ContractRegistry()
        # The quote table is drawn from random streams of its own, so the bars are the same with or without it.
        self.quote_series: dict[str, QuoteSeries] | None = {} if quotes else None

    @property
    def size(self) -> int:
        return len(self.datetimes)

    def rng(self, product: str, component: str) -> np.random.Generator:
        key = [self.seed, *product.encode(), 0, *component.encode()]
        return np.random.default_rng(np.random.SeedSequence(key))

    def day_mask(self, first: date, last: date) -> np.ndarray:
        days = np.array([first <= day <= last for day in self.days])
        return days[self.day_of_minute]

    def trading_days_until(self, day: date, expiry: date) -> int:
        count, current = 0, day
        while current < expiry:
            current += timedelta(days=1)
            if self.expiry.calendar.is_trading_day(current):
                count += 1
        return count

    # ----------------------------------------------------------------- the index

    def simulate_index(self, model: ProductModel) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Log index open/high/low/close per minute, and the daily regime.

        Drift and bursts are in units of the product's daily volatility; a weak
        pull towards the starting level keeps a long window within a plausible range.
        """
        rng = self.rng(model.future_product, "index")
        n_days, per_day = len(self.days), self.minutes_per_day
        regimes = np.empty(n_days, dtype=int)
        regimes[0] = rng.choice(3, p=[0.3, 0.35, 0.35])
        for day in range(1, n_days):
            regimes[day] = rng.choice(3, p=_REGIME_TRANSITIONS[regimes[day - 1]])
        sigma = model.daily_vol
        drift = np.array([_REGIMES[r][0] for r in regimes]) * sigma
        vol = np.array([_REGIMES[r][1] for r in regimes]) * sigma

        shape = np.sqrt(self.activity.reshape(n_days, per_day))
        shape /= np.sqrt((shape ** 2).mean(axis=1, keepdims=True))
        minute_vol = vol[:, None] * shape / math.sqrt(per_day)
        noise = minute_vol * rng.standard_normal((n_days, per_day))
        jumps = (rng.random((n_days, per_day)) < 0.25 / per_day) * rng.normal(0.0, 0.45 * sigma, (n_days, per_day))
        gap_noise = rng.normal(0.0, 0.4, n_days) * vol

        anchor = level = math.log(model.index_start)
        open_ = np.empty((n_days, per_day))
        close = np.empty((n_days, per_day))
        for day in range(n_days):
            mu = drift[day] - _ANCHOR_PULL * (level - anchor)
            returns = mu / per_day + noise[day] + jumps[day]
            if rng.random() < 0.6:
                length = int(rng.integers(30, 121))
                first = int(rng.integers(0, per_day - length + 1))
                with_trend = drift[day] != 0 and rng.random() < 0.75
                direction = math.copysign(1.0, drift[day]) if with_trend else float(rng.choice([-1.0, 1.0]))
                returns[first:first + length] += direction * rng.uniform(0.4, 0.9) * sigma / length
            gap = gap_noise[day] + 0.3 * mu if day else 0.0
            close[day] = level + gap + np.cumsum(returns)
            open_[day] = close[day] - returns
            level = float(close[day, -1])
        open_, close = open_.reshape(-1), close.reshape(-1)
        extra = np.abs(rng.standard_normal((2, self.size))) * minute_vol.reshape(-1) * 0.6
        high = np.maximum(open_, close) + extra[0]
        low = np.minimum(open_, close) - extra[1]
        return {"open": open_, "high": high, "low": low, "close": close}, regimes

    # ----------------------------------------------------------------- futures

    def simulate_futures(self, model: ProductModel, log_index: dict[str, np.ndarray]) -> dict[ContractMonth, _FuturePath]:
        """Every listed futures contract: bars saved, and its unrounded prices kept for the options."""
        product = model.future_product
        spec = DEFAULT_PRODUCT_SPECS[product]
        rng = self.rng(product, "futures")
        listings = {day: self.symbols.listed_months(product, day) for day in self.days}
        n_days = len(self.days)
        volume_share: dict[ContractMonth, np.ndarray] = {}
        oi_share: dict[ContractMonth, np.ndarray] = {}
        for index, day in enumerate(self.days):
            months = listings[day]
            left = self.trading_days_until(day, self.expiry.expiry_date(product, months[0]))
            front_volume = _FRONT_VOLUME_SHARE[min(left, len(_FRONT_VOLUME_SHARE) - 1)]
            front_oi = _FRONT_OI_SHARE[min(left, len(_FRONT_OI_SHARE) - 1)]
            volumes = (front_volume, 1.0 - sum(_QUARTER_VOLUME_SHARES) - front_volume, *_QUARTER_VOLUME_SHARES)
            ois = (front_oi, 1.0 - sum(_QUARTER_OI_SHARES) - front_oi, *_QUARTER_OI_SHARES)
            for month, v_share, oi in zip(months, volumes, ois):
                volume_share.setdefault(month, np.zeros(n_days))[index] = v_share
                oi_share.setdefault(month, np.zeros(n_days))[index] = oi

        day_volume = model.futures_daily_volume * rng.lognormal(0.0, 0.2, n_days)
        index_returns = np.diff(log_index["close"], prepend=log_index["open"][0])
        typical = np.std(index_returns) or 1.0
        activity = self.activity * (0.7 + 0.3 * np.abs(index_returns) / typical)
        per_day = self.minutes_per_day
        tick = spec.pricetick
        contracts: dict[ContractMonth, _FuturePath] = {}
        for listed in self.symbols.contracts(product, self.start, self.end):
            month = listed.contract_month
            alive = self.day_mask(listed.first_day, listed.last_day)
            expiry_seconds = _expiry_seconds(listed.expiry)
            years = np.maximum(expiry_seconds - self.bar_end_seconds, 0.0) / _SECONDS_PER_YEAR
            noise = lfilter([1.0], [1.0, -0.97], rng.normal(0.0, 0.25 * tick / model.index_start, self.size))
            log_basis = -model.carry * years + noise
            prices = {name: np.exp(values + log_basis) for name, values in log_index.items()}
            rounded = _round_ohlc(prices, tick)

            shares = np.repeat(volume_share[month], per_day)
            volume = rng.poisson(day_volume[self.day_of_minute] * shares * activity / per_day).astype(float)
            open_interest = self.open_interest_path(rng, model.futures_open_interest * oi_share[month])
            emit = alive & (volume > 0)
            average = (rounded["open"] + rounded["high"] + rounded["low"] + rounded["close"]) / 4.0
            vt_symbol = self.add_series(listed.symbol, listed.exchange, emit, rounded, volume,
                                        volume * average * spec.multiplier, open_interest)
            if self.quote_series is not None and emit.any():
                # one tick wide around the minute's opening price, a few dozen lots shown each side
                listed_minutes = np.nonzero(alive)[0]
                bid = _to_tick(np.floor(prices["open"][listed_minutes] / tick + 1e-9) * tick, tick)
                sizes = self.rng(product, f"quotes-{listed.symbol}").poisson(20.0, (2, listed_minutes.size)) + 1.0
                self.quote_series[vt_symbol] = QuoteSeries(listed_minutes, bid, _to_tick(bid + tick, tick),
                                                           sizes[0], sizes[1])
            contracts[month] = _FuturePath(listed.symbol, alive, prices)
        return contracts

    def open_interest_path(self, rng: np.random.Generator, day_targets: np.ndarray) -> np.ndarray:
        """Minute open interest moving from the previous close to each day's target, with a bridged wiggle.

        A contract listed inside the window has a zero target before its listing, so it starts from nothing.
        """
        per_day = self.minutes_per_day
        targets = np.round(day_targets * rng.lognormal(0.0, 0.02, day_targets.size))
        previous = np.concatenate(([targets[0] * (1 + rng.normal(0.0, 0.02))], targets[:-1]))
        fraction = (np.arange(1, per_day + 1) / per_day)[None, :]
        walk = np.cumsum(rng.normal(0.0, 1.0, (targets.size, per_day)), axis=1)
        bridge = (walk - fraction * walk[:, -1:]) * (0.002 * np.maximum(targets, 1.0))[:, None]
        path = previous[:, None] + (targets - previous)[:, None] * fraction + bridge
        return np.maximum(np.round(path), 0.0).reshape(-1)

    # ----------------------------------------------------------------- options

    def implied_vol_level(self, model: ProductModel, regimes: np.ndarray,
                          log_index: dict[str, np.ndarray]) -> np.ndarray:
        """Short-dated at-the-money vol per minute: a regime-driven daily level that rises as the index falls."""
        rng = self.rng(model.future_product, "vol")
        level = np.empty(len(self.days))
        current = model.atm_vol
        for day, regime in enumerate(regimes):
            target = model.atm_vol * _REGIMES[regime][2]
            current = current + 0.5 * (target - current) + rng.normal(0.0, 0.006)
            level[day] = current
        day_open = log_index["open"].reshape(len(self.days), -1)[:, 0]
        move = log_index["close"] - day_open[self.day_of_minute]
        vol = level[self.day_of_minute] * np.exp(-model.spot_vol_beta * move)
        return np.clip(vol, 0.5 * model.atm_vol, 2.5 * model.atm_vol)

    def simulate_options(self, model: ProductModel, futures: dict[ContractMonth, _FuturePath],
                         short_vol: np.ndarray) -> None:
        product = model.option_product
        spec = DEFAULT_PRODUCT_SPECS[product]
        exchange = self.resolver.resolve(product)
        alive_days: dict[ContractMonth, list[date]] = {}
        rank_on_day: dict[ContractMonth, np.ndarray] = {}
        for index, day in enumerate(self.days):
            for rank, month in enumerate(self.symbols.listed_months(product, day)[:OPTION_EXPIRIES_ALIVE]):
                alive_days.setdefault(month, []).append(day)
                rank_on_day.setdefault(month, np.full(len(self.days), -1))[index] = rank
        rng = self.rng(product, "options")
        for month in sorted(alive_days):
            future = futures.get(month)
            days = alive_days[month]
            alive = self.day_mask(days[0], days[-1])
            if future is None or np.any(alive & ~future.alive):
                # the two nearest option months are always the two nearest futures months
                raise RuntimeError(f"sample market: {product}{month.code} has no same-month future to price on")
            rank = rank_on_day[month][self.day_of_minute][alive]
            self.simulate_option_month(model, spec.pricetick, spec.multiplier, exchange, month,
                                       future, alive, rank, short_vol, rng)

    def simulate_option_month(self, model: ProductModel, tick: float, multiplier: float, exchange: Exchange,
                              month: ContractMonth, future: _FuturePath, alive: np.ndarray, rank: np.ndarray,
                              short_vol: np.ndarray, rng: np.random.Generator) -> None:
        product = model.option_product
        expiry = self.expiry.expiry_date(product, month)
        minutes = np.nonzero(alive)[0]
        prices = {name: values[minutes] for name, values in future.prices.items()}
        strikes = strike_ladder(model.strike_bands, float(prices["low"].min()), float(prices["high"].max()),
                                STRIKES_BEYOND_RANGE)
        years = np.maximum(_expiry_seconds(expiry) - self.bar_end_seconds[minutes], 0.0) / _SECONDS_PER_YEAR
        years = np.maximum(years, _MIN_YEARS_TO_EXPIRY)[:, None]

        long_vol = model.atm_vol * 1.03
        atm = long_vol + (short_vol[minutes][:, None] - long_vol) * np.exp(-years / 0.08)
        log_moneyness = np.log(strikes[None, :] / prices["close"][:, None])
        scaled = np.clip(log_moneyness / np.sqrt(np.maximum(years, _SMILE_MIN_YEARS)), -1.5, 1.5)
        sigma = atm * np.clip(1.0 + model.skew * scaled + model.curvature * scaled ** 2, 0.6, 3.0)

        signs = np.array([1.0, -1.0])[:, None, None, None]
        underlying = np.stack([prices[name] for name in ("open", "high", "low", "close")])[None, :, :, None]
        mids = self.calculator.calculate_batch(
            signs, underlying, strikes[None, None, None, :], years[None, None], RISK_FREE_RATE,
            sigma[None, None]).price
        if not np.isfinite(mids).all():
            raise RuntimeError(f"sample market: Black-76 returned invalid prices for {product}{month.code}")
        mid_open, mid_high, mid_low, mid_close = (mids[:, i] for i in range(4))
        mid_max = np.maximum(np.maximum(mid_open, mid_close), np.maximum(mid_high, mid_low))
        mid_min = np.minimum(np.minimum(mid_open, mid_close), np.minimum(mid_high, mid_low))

        standardized = log_moneyness / (sigma * np.sqrt(years))
        spread_ticks = np.clip(2 + np.floor(1.2 * np.abs(standardized))[None]
                               + np.floor(mid_close * 0.004 / tick), 2, 20)
        out_of_money = np.stack([log_moneyness > 0, log_moneyness < 0])
        # in-the-money options trade less, the more so the deeper they are
        in_money_factor = 0.15 + 0.85 * np.exp(-1.5 * np.abs(standardized))[None]
        nearness = np.exp(-0.5 * (standardized / 0.8) ** 2)[None] * np.where(out_of_money, 1.0, in_money_factor)
        expiry_factor = np.where(rank == 0, 1.0, 0.4)[None, :, None]
        rate = (model.option_trades_per_minute * expiry_factor * self.activity[minutes][None, :, None]
                * (nearness + 0.005))
        trades = rng.poisson(rate)
        volume = (trades + rng.poisson(1.3 * trades)).astype(float)
        emit = trades > 0

        open_side = rng.random(trades.shape) < 0.5
        close_side = rng.random(trades.shape) < 0.5
        open_ = _print(mid_open, spread_ticks, tick, open_side)
        close = _print(mid_close, spread_ticks, tick, close_side)
        open_ = np.where(trades == 1, close, open_)
        touches_extremes = (trades >= 3) & (rng.random(trades.shape) < 1.0 - np.exp(-(trades - 2) / 3.0))
        high = np.maximum(open_, close)
        low = np.minimum(open_, close)
        high = np.where(touches_extremes, np.maximum(high, _print(mid_max, spread_ticks, tick, True)), high)
        low = np.where(touches_extremes, np.minimum(low, _print(mid_min, spread_ticks, tick, False)), low)

        days_left = np.array([self.trading_days_until(self.days[d], expiry) for d in range(len(self.days))])
        closing = (days_left[self.day_of_minute][minutes] <= 2)[None, :, None]
        net_opening = np.where(closing, rng.uniform(-0.7, 0.2, trades.shape), rng.uniform(-0.3, 0.6, trades.shape))
        initial_oi = np.round(model.option_open_interest * expiry_factor[:, :1] * 0.7
                              * (np.exp(-0.5 * (standardized[:1] / 1.5) ** 2)[None] + 0.05))
        open_interest = np.maximum(initial_oi + np.cumsum(np.round(volume * net_opening), axis=1), 0.0)

        average = (open_ + high + low + close) / 4.0
        quote_table = None
        if self.quote_series is not None:
            # the minute's quote: the one its first print is at the bid or ask of (a single print is the close)
            quote_mid = np.where(trades == 1, mid_close, mid_open)
            bid_ticks = np.round((quote_mid - spread_ticks * tick / 2.0) / tick)
            ask_ticks = np.maximum(bid_ticks + spread_ticks, 1.0)
            bid_ticks = np.where(bid_ticks >= 1.0, bid_ticks, 0.0)
            shown = 1.0 + 10.0 * nearness * expiry_factor
            sizes = self.rng(product, f"quotes-{month.code}").poisson(np.broadcast_to(shown, (2, *shown.shape))) + 1.0
            bid_sizes = np.where(bid_ticks > 0, sizes[0], 0.0)
            quote_table = (_to_tick(bid_ticks * tick, tick), _to_tick(ask_ticks * tick, tick), bid_sizes, sizes[1])
        for type_index, option_type in enumerate((OptionType.CALL, OptionType.PUT)):
            for strike_index, strike in enumerate(strikes.tolist()):
                rows = emit[type_index, :, strike_index]
                if not rows.any():
                    continue
                symbol = ContractHelper.format_option(product, month, option_type, strike, exchange)
                column = (type_index, slice(None), strike_index)
                ohlc = {"open": open_[column], "high": high[column], "low": low[column], "close": close[column]}
                full_emit = np.zeros(self.size, dtype=bool)
                full_emit[minutes[rows]] = True
                vt_symbol = self.add_series(symbol, exchange, full_emit, ohlc, volume[column],
                                            volume[column] * average[column] * multiplier, open_interest[column],
                                            source_minutes=minutes)
                if quote_table is not None:
                    bid, ask, bid_size, ask_size = quote_table
                    self.quote_series[vt_symbol] = QuoteSeries(
                        minutes, bid[column], ask[column], bid_size[column].astype(float),
                        ask_size[column].astype(float))

    # ----------------------------------------------------------------- output

    def add_series(self, symbol: str, exchange: Exchange, emit: np.ndarray, ohlc: dict[str, np.ndarray],
                   volume: np.ndarray, turnover: np.ndarray, open_interest: np.ndarray,
                   source_minutes: np.ndarray | None = None) -> str:
        """Keep the emitted minutes of arrays indexed by the full grid (or by ``source_minutes``)."""
        minute = np.nonzero(emit)[0]
        rows = minute if source_minutes is None else np.searchsorted(source_minutes, minute)
        series = _Series(symbol, exchange, minute,
                         *(ohlc[name][rows] for name in ("open", "high", "low", "close")),
                         volume[rows], np.round(turnover[rows], 2), open_interest[rows])
        info = self.registry.register(self.factory.info(symbol))
        self.series[info.vt_symbol] = series
        return info.vt_symbol

    def build(self, products: Sequence[str], report: Callable[[str], None] | None = None) -> SampleMarket:
        for product in products:
            model = PRODUCT_MODELS.get(product)
            if model is None:
                raise SampleMarketError(
                    f"sample market: no model for product {product!r} (available: {', '.join(PRODUCT_MODELS)})")
            if report is not None:
                report(f"sample market: generating {product} and its options ({len(self.days)} trading days)")
            log_index, regimes = self.simulate_index(model)
            futures = self.simulate_futures(model, log_index)
            self.simulate_options(model, futures, self.implied_vol_level(model, regimes, log_index))
        contracts = {info.vt_symbol: ContractFactory.contract_data(info) for info in self.registry}
        return SampleMarket(
            start=self.start, end=self.end, seed=self.seed, trading_days=tuple(self.days),
            minute_datetimes=self.datetimes, risk_free_rate=RISK_FREE_RATE,
            contracts=MappingProxyType(contracts), registry=self.registry,
            _series=MappingProxyType(dict(self.series)),
            quotes=None if self.quote_series is None else MappingProxyType(dict(self.quote_series)))


def strike_ladder(bands: Sequence[tuple[float, float]], low: float, high: float, beyond: int) -> np.ndarray:
    """Listed strikes on the exchange's spacing bands covering [low, high] plus ``beyond`` strikes each side."""
    candidates: list[float] = []
    lower_bound = 0.0
    ceiling = high * 2.0
    for upper, spacing in bands:
        first = math.floor(lower_bound / spacing) * spacing + spacing
        top = min(upper, ceiling)
        candidates.extend(np.arange(first, top + spacing / 2, spacing).tolist())
        if upper >= ceiling:
            break
        lower_bound = upper
    ladder = np.unique(np.array(candidates))
    first_index = max(int(np.searchsorted(ladder, low, side="right")) - 1 - beyond, 0)
    last_index = min(int(np.searchsorted(ladder, high, side="left")) + beyond, ladder.size - 1)
    return ladder[first_index:last_index + 1]


def _expiry_seconds(expiry: date) -> float:
    return datetime(expiry.year, expiry.month, expiry.day, 15, 0, tzinfo=EXCHANGE_TIMEZONE).timestamp()


def _to_tick(values: np.ndarray, tick: float) -> np.ndarray:
    decimals = max(0, -math.floor(math.log10(tick))) + 1
    return np.round(np.round(values / tick) * tick, decimals)


def _round_ohlc(prices: dict[str, np.ndarray], tick: float) -> dict[str, np.ndarray]:
    open_ = _to_tick(prices["open"], tick)
    close = _to_tick(prices["close"], tick)
    high = np.maximum(_to_tick(prices["high"], tick), np.maximum(open_, close))
    low = np.minimum(_to_tick(prices["low"], tick), np.minimum(open_, close))
    return {"open": open_, "high": high, "low": low, "close": close}


def _print(mid: np.ndarray, spread_ticks: np.ndarray, tick: float, at_ask: np.ndarray | bool) -> np.ndarray:
    """A trade at the bid or the ask of a quote ``spread_ticks`` wide around ``mid``; no bid below one tick."""
    bid = np.round((mid - spread_ticks * tick / 2.0) / tick)
    ask = bid + spread_ticks
    ask = np.maximum(ask, 1.0)
    price = np.where(at_ask | (bid < 1.0), ask, bid)
    return _to_tick(price * tick, tick)


# --------------------------------------------------------------------------- public API

def generate_sample_market(start: date = DEFAULT_START, end: date = DEFAULT_END, seed: int = DEFAULT_SEED, *,
                           calendar: TradingDayCalendar | None = None,
                           products: Sequence[str] = SAMPLE_PRODUCTS,
                           report: Callable[[str], None] | None = None, quotes: bool = False) -> SampleMarket:
    """Generate the synthetic market for the trading days in ``[start, end]`` (deterministic per seed).

    ``quotes``: also keep every contract's quote at the start of each listed minute (``SampleMarket.quotes``),
    drawn from random streams of their own, so the bars are identical either way."""
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, datetime) or not isinstance(value, date):
            raise SampleMarketError(f"sample market: {name} must be a date, got {value!r}")
    generator = _Generator(start, end, seed, calendar or load_cn_calendar(), quotes=quotes)
    return generator.build(tuple(products), report)


def save_sample_market(database: BaseDatabase, market: SampleMarket, batch_size: int = DEFAULT_SAVE_BATCH, *,
                       where: str = "the database", report: Callable[[str], None] | None = None) -> int:
    """Write every bar through ``database.save_bar_data`` in batches and record them as synthetic; returns
    the number of bars written. Refused (``SyntheticDataError``) beside real bars of the sample's products.

    Progress: a bar on a terminal; otherwise ``report`` gets a line every few seconds.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    codes = sample_codes()
    refuse_if_real(database, codes, where)
    written = 0
    bars = market.bars
    symbols = market.vt_symbols
    bar = tqdm(total=market.bar_count, unit="bar", desc="saving the sample market", disable=None, leave=False)
    next_report = time.monotonic() + REPORT_EVERY_SECONDS
    for index, vt_symbol in enumerate(symbols, 1):
        series = bars[vt_symbol]
        for first in range(0, len(series), batch_size):
            database.save_bar_data(series[first:first + batch_size])
        written += len(series)
        bar.update(len(series))
        if report is not None and bar.disable and time.monotonic() >= next_report:
            report(f"sample market: saved {written:,} of {market.bar_count:,} bars ({index} of {len(symbols)} "
                   f"contracts)")
            next_report = time.monotonic() + REPORT_EVERY_SECONDS
    bar.close()
    record_generation(database, codes, market.vt_symbols, market.start, market.end, market.seed,
                      datetime.now(EXCHANGE_TIMEZONE))
    return written


def has_sample_products(database: BaseDatabase, start: date, end: date,
                        products: Sequence[str] = SAMPLE_PRODUCTS) -> bool:
    """Whether the database holds 1-minute CFFEX bars of these futures or their options within ``[start, end]``."""
    codes = set(products) | {PRODUCT_MODELS[p].option_product for p in products if p in PRODUCT_MODELS}
    for overview in database.get_bar_overview():
        if overview.exchange is not Exchange.CFFEX or overview.interval is not Interval.MINUTE:
            continue
        if product_code(overview.symbol) not in codes or overview.start is None or overview.end is None:
            continue
        if _local_date(overview.start) <= end and _local_date(overview.end) >= start:
            return True
    return False


def sample_codes(products: Sequence[str] = SAMPLE_PRODUCTS) -> tuple[str, ...]:
    """The futures products and their option products the sample writes (IF, IM, IO, MO)."""
    return tuple(sorted(set(products) | {PRODUCT_MODELS[p].option_product for p in products if p in PRODUCT_MODELS}))


def ensure_sample_market(database: BaseDatabase, start: date = DEFAULT_START, end: date = DEFAULT_END,
                         seed: int = DEFAULT_SEED, *, calendar: TradingDayCalendar | None = None,
                         where: str = "the database", report: Callable[[str], None] | None = None) -> bool:
    """Generate and save the sample market unless the database already has its bars in the window.

    The bars are recorded as synthetic (``synthetic_marker``). A database that holds real bars of
    the sample's products is refused with a ``SyntheticDataError`` naming ``where``.
    """
    codes = sample_codes()
    holdings = bar_holdings(database, codes, start, end)
    if holdings.synthetic and not holdings.real:
        return False
    refuse_if_real(database, codes, where)  # before the 20 s of generating, not only when saving
    market = generate_sample_market(start, end, seed, calendar=calendar, report=report)
    save_sample_market(database, market, where=where, report=report)
    return True


def regenerate_with_quotes(database: BaseDatabase, first: date, last: date) -> SampleMarket | None:
    """The sample generation recorded in ``database`` that covers ``[first, last]``, generated again in memory
    with its quote table (the same window and seed give the same bars); None when no generation covers it.
    Nothing is written: the quotes of the sample cost about as long as the sample itself to make."""
    windows = [w for w in synthetic_windows(database) if w.start <= first and last <= w.end]
    if not windows:
        return None
    window = windows[-1]
    return generate_sample_market(window.start, window.end, window.seed, quotes=True)


def _local_date(moment: datetime) -> date:
    # vnpy's drivers return naive datetimes in the database timezone (Asia/Shanghai here).
    return (moment.astimezone(EXCHANGE_TIMEZONE) if moment.tzinfo else moment).date()
