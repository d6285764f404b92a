"""GatewayManager with vnpy_ctp's real CtpGateway: the .env login reaches connect; an unreachable front is reported.

No network is needed: the fronts are a closed port on 127.0.0.1. vnpy_ctp's
``connect`` returns at once and the CTP API retries the front on its own thread,
so ``wait_until_ready`` reports and finally gives up, without any exception
from the gateway and without hanging.
"""
from __future__ import annotations

import logging
import socket
import threading

import pytest
from vnpy_ctp import CtpGateway
from vnpy_sopt import SoptGateway

from src.main.bootstrap.engine_factory import create_engines
from src.core.config.env_settings import CtpSettings
from src.core.config.errors import ConfigError
from src.main.config.gateway_manager import GatewayManager, GatewayUnavailableError, connect_setting

PASSWORD = "s3cret-ctp-pass"
AUTH_CODE = "AUTHCODE-0000XYZ"


class SpyCtpGateway(CtpGateway):
    """The real CtpGateway, remembering what it was asked to connect with."""

    connected_with: list[dict] = []

    def connect(self, setting: dict) -> None:
        SpyCtpGateway.connected_with.append(dict(setting))
        super().connect(setting)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(port: int, prefix: str = "CTP", **extra) -> dict[str, str]:
    env = {f"{prefix}_USERNAME": "089123", f"{prefix}_PASSWORD": PASSWORD, f"{prefix}_BROKER_ID": "9999",
           f"{prefix}_TD_SERVER": f"127.0.0.1:{port}", f"{prefix}_MD_SERVER": f"tcp://127.0.0.1:{port}",
           f"{prefix}_PRODUCT_NAME": "client_vol_1.0", f"{prefix}_AUTH_CODE": AUTH_CODE}
    env.update(extra)
    return env


def test_connect_settings_use_the_gateways_own_keys():
    settings = CtpSettings.from_environment("CTP", environment(1, CTP_ENVIRONMENT="test"))
    ctp = connect_setting(CtpGateway, settings)
    assert set(ctp) == set(CtpGateway.default_setting)
    assert ctp == {"用户名": "089123", "密码": PASSWORD, "经纪商代码": "9999", "交易服务器": "127.0.0.1:1",
                   "行情服务器": "tcp://127.0.0.1:1", "产品名称": "client_vol_1.0", "授权编码": AUTH_CODE,
                   "柜台环境": "测试"}
    sopt = connect_setting(SoptGateway, CtpSettings.from_environment("SOPT", environment(1, "SOPT")))
    assert set(sopt) == set(SoptGateway.default_setting)
    assert "柜台环境" not in sopt


def test_counter_environment_is_checked():
    with pytest.raises(ConfigError, match="CTP_ENVIRONMENT"):
        CtpSettings.from_environment("CTP", environment(1, CTP_ENVIRONMENT="simnow"))
    assert CtpSettings.from_environment("CTP", environment(1)).environment == "production"


def test_only_configured_gateways_are_used():
    manager = GatewayManager.from_environment(environment(1, "SOPT"))
    assert list(manager.classes_in_use()) == ["SOPT"]
    assert not GatewayManager.from_environment({}).configured


def test_settings_reach_ctp_connect_and_an_unreachable_front_is_reported(caplog):
    caplog.set_level(logging.INFO)
    port = closed_port()
    SpyCtpGateway.connected_with.clear()
    # The fronts are unreachable, so the CTP API never converts GBK text: the zh_CN.GB18030 locale
    # (missing on most test machines; tests/unit/config/test_gbk_locale.py) is not needed here.
    manager = GatewayManager.from_environment(environment(port), gateway_classes={"CTP": SpyCtpGateway},
                                              locale_available=lambda name: True)
    engines = create_engines(gateway_classes=manager.classes_in_use(), strategies=False, files_tag="test-gateways")
    try:
        manager.bind(engines.gateways)
        assert isinstance(manager.gateways["CTP"], SpyCtpGateway)
        manager.connect(engines.main_engine)
        assert SpyCtpGateway.connected_with == [{
            "用户名": "089123", "密码": PASSWORD, "经纪商代码": "9999", "交易服务器": f"127.0.0.1:{port}",
            "行情服务器": f"tcp://127.0.0.1:{port}", "产品名称": "client_vol_1.0", "授权编码": AUTH_CODE,
            "柜台环境": "实盘"}]
        with pytest.raises(GatewayUnavailableError) as error:
            manager.wait_until_ready(timeout=1.5, stop=threading.Event(), report_every=0.5, poll=0.05)
        assert "CTP: trading front not logged in, market data front not logged in" in str(error.value)
        assert "runtime.gateway_connect_timeout" in str(error.value)
        assert any("still connecting" in record.getMessage() for record in caplog.records)
    finally:
        engines.close()  # stops the event engine first, so no timer queries a closed CTP API
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "连接" in logged or "connect" in logged.lower()
    assert PASSWORD not in logged and AUTH_CODE not in logged


def test_a_stop_request_ends_the_wait():
    manager = GatewayManager.from_environment(environment(closed_port()), gateway_classes={"CTP": SpyCtpGateway})
    engines = create_engines(gateway_classes=manager.classes_in_use(), strategies=False, files_tag="test-gateways")
    try:
        manager.bind(engines.gateways)
        stop = threading.Event()
        stop.set()
        assert manager.wait_until_ready(timeout=60, stop=stop) is False
    finally:
        engines.close()
