"""GatewayManager: the CTP (futures, CFFEX options) and SOPT (ETF options) logins of ``.env``, connected.

Settings come from the environment (``.env``): ``CTP_USERNAME``, ``CTP_PASSWORD``,
``CTP_BROKER_ID``, ``CTP_TD_SERVER``, ``CTP_MD_SERVER``, ``CTP_PRODUCT_NAME``,
``CTP_AUTH_CODE`` and ``CTP_ENVIRONMENT`` (production or test), and the same
with ``SOPT_``. A gateway whose variables are all empty is not used.

``connect_setting`` builds the dict vnpy_ctp's ``CtpGateway.connect`` and
vnpy_sopt's ``SoptGateway.connect`` read, with the keys of their
``default_setting`` (用户名, 密码, 经纪商代码, 交易服务器, 行情服务器, 产品名称,
授权编码, and 柜台环境 for CTP). That dict is the one place the password and the
authentication code are revealed; it goes straight to ``connect`` and is never
logged (and every revealed secret is masked in every log line anyway).

What vnpy_ctp does when a front cannot be reached: ``connect`` returns at once,
and the CTP API keeps trying to reach the front from its own thread, silently.
``wait_until_ready`` therefore watches the login and contract flags of each
gateway, reports what is still missing every ``report_every`` seconds, and
after ``timeout`` raises ``GatewayUnavailableError``: the child exits with
code 3 and the daemon restarts it with backoff, so a new process (and a new
CTP API instance: vnpy_ctp cannot reconnect one it has closed) tries again.
"""
from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vnpy.trader.engine import MainEngine
from vnpy.trader.gateway import BaseGateway

from src.core.config.env_settings import CtpSettings
from src.core.config.errors import UserInputError

logger = logging.getLogger(__name__)

GATEWAY_PREFIXES = ("CTP", "SOPT")
COUNTER_ENVIRONMENT_KEY = "柜台环境"
COUNTER_ENVIRONMENTS = {"production": "实盘", "test": "测试"}


class GatewayUnavailableError(Exception):
    """A gateway did not log in (or send its contracts) in time."""


# vnpy_ctp's and vnpy_sopt's C++ code converts the CTP API's GBK text with this locale on Linux, and
# aborts the whole process (std::runtime_error in an API thread) when the system lacks it.
GBK_LOCALE = "zh_CN.GB18030"
GBK_GATEWAY_PACKAGES = ("vnpy_ctp", "vnpy_sopt")
_LC_CTYPE_MASK = 1  # glibc and musl: 1 << LC_CTYPE, LC_CTYPE == 0


def gbk_locale_available(name: str = GBK_LOCALE) -> bool:
    """Whether the C library can load locale ``name`` (what std::locale(name) needs), without
    touching this process's own locale. Outside Linux the gateways do not use it: True."""
    if not sys.platform.startswith("linux"):
        return True
    try:
        libc = ctypes.CDLL(None)
        newlocale, freelocale = libc.newlocale, libc.freelocale
    except (OSError, AttributeError):
        return True  # no way to ask: let the gateway try
    newlocale.restype = ctypes.c_void_p
    newlocale.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
    freelocale.argtypes = [ctypes.c_void_p]
    handle = newlocale(_LC_CTYPE_MASK, name.encode("ascii"), None)
    if not handle:
        return False
    freelocale(handle)
    return True


def needs_gbk_locale(gateway_class: type) -> bool:
    return any(klass.__module__.split(".")[0] in GBK_GATEWAY_PACKAGES for klass in gateway_class.__mro__)


def require_gbk_locale(gateway_classes: Mapping[str, type],
                       available: Callable[[str], bool] = gbk_locale_available) -> None:
    """One clear line (UserInputError: restarting cannot help) instead of vnpy_ctp's C++ abort."""
    users = [name for name, gateway_class in gateway_classes.items() if needs_gbk_locale(gateway_class)]
    if users and not available(GBK_LOCALE):
        raise UserInputError(
            f"the {'/'.join(users)} gateway needs the {GBK_LOCALE} locale, which this system lacks: "
            f"generate it (Debian/Ubuntu: apt-get install locales && localedef -i zh_CN -f GB18030 "
            f"{GBK_LOCALE}); the Docker image has it")


def default_gateway_classes() -> dict[str, type[BaseGateway]]:
    from vnpy_ctp import CtpGateway
    from vnpy_sopt import SoptGateway

    return {"CTP": CtpGateway, "SOPT": SoptGateway}


def connect_setting(gateway_class: type[BaseGateway], settings: CtpSettings) -> dict[str, str]:
    """The ``connect`` dict of a vnpy CTP-family gateway, keyed as its ``default_setting``."""
    setting = {
        "用户名": settings.username,
        "密码": settings.password.reveal(),
        "经纪商代码": settings.broker_id,
        "交易服务器": settings.td_server,
        "行情服务器": settings.md_server,
        "产品名称": settings.product_name,
        "授权编码": settings.auth_code.reveal(),
    }
    if COUNTER_ENVIRONMENT_KEY in gateway_class.default_setting:
        setting[COUNTER_ENVIRONMENT_KEY] = COUNTER_ENVIRONMENTS[settings.environment]
    unknown = set(setting) - set(gateway_class.default_setting)
    if unknown:  # a vnpy upgrade renamed its keys: refuse rather than log in with half a setting
        raise RuntimeError(f"{gateway_class.__name__}.default_setting has no key(s) {sorted(unknown)}; "
                           f"its keys are {sorted(gateway_class.default_setting)}")
    return setting


@dataclass(frozen=True)
class GatewayStatus:
    name: str
    trading_login: bool
    market_data_login: bool
    contracts_received: bool

    @property
    def ready(self) -> bool:
        return self.trading_login and self.market_data_login and self.contracts_received

    def missing(self) -> str:
        parts = []
        if not self.trading_login:
            parts.append("trading front not logged in")
        if not self.market_data_login:
            parts.append("market data front not logged in")
        if self.trading_login and not self.contracts_received:
            parts.append("contracts not received yet")
        return ", ".join(parts) or "ready"


class GatewayManager:
    def __init__(self, settings: Mapping[str, CtpSettings],
                 gateway_classes: Mapping[str, type[BaseGateway]] | None = None,
                 locale_available: Callable[[str], bool] = gbk_locale_available) -> None:
        self.settings = dict(settings)
        self.gateway_classes = dict(gateway_classes) if gateway_classes is not None else default_gateway_classes()
        self.gateways: dict[str, BaseGateway] = {}
        self._locale_available = locale_available

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None,
                         gateway_classes: Mapping[str, type[BaseGateway]] | None = None,
                         locale_available: Callable[[str], bool] = gbk_locale_available) -> GatewayManager:
        found = {}
        for prefix in GATEWAY_PREFIXES:
            settings = CtpSettings.from_environment(prefix, environ)
            if settings is not None:
                found[prefix] = settings
        return cls(found, gateway_classes, locale_available)

    @property
    def configured(self) -> bool:
        return bool(self.settings)

    def describe(self) -> str:
        if not self.settings:
            return "no gateway configured"
        return "; ".join(f"{name} {s.username}@{s.broker_id} (trading {s.td_server}, market data {s.md_server}, "
                         f"{s.environment})" for name, s in self.settings.items())

    def classes_in_use(self) -> dict[str, type[BaseGateway]]:
        """The gateway class of each configured login, for ``create_engines``."""
        return {name: self.gateway_classes[name] for name in self.settings}

    def bind(self, gateways: Mapping[str, BaseGateway]) -> None:
        """The gateway objects MainEngine created for the configured logins."""
        self.gateways = {name: gateways[name] for name in self.settings}

    def connect(self, main_engine: MainEngine) -> None:
        """Logs in every configured gateway; first, one clear line if the CTP family's locale is missing."""
        require_gbk_locale({name: type(self.gateways[name]) for name in self.settings}, self._locale_available)
        for name, settings in self.settings.items():
            gateway = self.gateways[name]
            logger.info("connecting %s: %s", name, self.describe_one(name))
            main_engine.connect(connect_setting(type(gateway), settings), name)

    def describe_one(self, name: str) -> str:
        s = self.settings[name]
        return f"user {s.username}, broker {s.broker_id}, trading front {s.td_server}, " \
               f"market data front {s.md_server}, {s.environment}"

    def status(self) -> list[GatewayStatus]:
        return [_status(name, gateway) for name, gateway in self.gateways.items()]

    def wait_until_ready(self, timeout: float, stop: threading.Event, report_every: float = 30.0,
                         poll: float = 0.2) -> bool:
        """True once every gateway is logged in with its contracts; False if ``stop`` was set first.

        Raises GatewayUnavailableError after ``timeout`` seconds.
        """
        started = time.monotonic()
        next_report = started + min(report_every, timeout)
        while not stop.is_set():
            statuses = self.status()
            if all(status.ready for status in statuses):
                logger.info("gateways ready: %s", ", ".join(s.name for s in statuses))
                return True
            now = time.monotonic()
            waiting = "; ".join(f"{s.name}: {s.missing()}" for s in statuses if not s.ready)
            if now - started >= timeout:
                raise GatewayUnavailableError(
                    f"not connected after {timeout:.0f} s (runtime.gateway_connect_timeout): {waiting}; "
                    f"check the fronts in .env and the network")
            if now >= next_report:
                logger.warning("still connecting after %.0f s of %.0f s: %s (the CTP API keeps retrying)",
                               now - started, timeout, waiting)
                next_report = now + report_every
            stop.wait(poll)
        return False


def _status(name: str, gateway: BaseGateway) -> GatewayStatus:
    td_api = getattr(gateway, "td_api", None)
    md_api = getattr(gateway, "md_api", None)
    return GatewayStatus(
        name=name,
        trading_login=bool(getattr(td_api, "login_status", False)),
        market_data_login=bool(getattr(md_api, "login_status", False)),
        contracts_received=bool(getattr(td_api, "contract_inited", False)),
    )
