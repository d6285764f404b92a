"""The CTP-family gateways' locale: checked before connecting, one clear line instead of a C++ abort.

vnpy_ctp and vnpy_sopt convert the CTP API's GBK text with std::locale("zh_CN.GB18030") and abort
the process when the system lacks that locale (slim Docker images, most CI machines).
"""
from __future__ import annotations

import subprocess

import pytest
from vnpy_ctp import CtpGateway
from vnpy_sopt import SoptGateway

from src.core.config.env_settings import CtpSettings
from src.core.config.errors import UserInputError
from src.main.config.gateway_manager import (GBK_LOCALE, GatewayManager, gbk_locale_available,
                                             needs_gbk_locale, require_gbk_locale)
from src.main.gateway.replay_gateway import ReplayGateway

ENVIRONMENT = {"CTP_USERNAME": "089123", "CTP_PASSWORD": "pw-not-logged", "CTP_BROKER_ID": "9999",
               "CTP_TD_SERVER": "127.0.0.1:1", "CTP_MD_SERVER": "127.0.0.1:1"}


def installed_locales() -> set[str]:
    result = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=30, check=True)
    return {line.strip().lower().replace("-", "") for line in result.stdout.splitlines()}


def test_the_probe_answers_like_the_c_library():
    assert gbk_locale_available("C") is True
    assert gbk_locale_available("xx_XX.NO-SUCH-CHARSET") is False
    assert gbk_locale_available(GBK_LOCALE) is ("zh_cn.gb18030" in installed_locales())


def test_only_the_ctp_family_needs_the_locale():
    class SpyCtp(CtpGateway):
        pass

    assert needs_gbk_locale(CtpGateway) and needs_gbk_locale(SoptGateway) and needs_gbk_locale(SpyCtp)
    assert not needs_gbk_locale(ReplayGateway)
    require_gbk_locale({"REPLAY": ReplayGateway}, available=lambda name: False)  # nothing to check


def test_a_missing_locale_is_one_clear_line_before_any_login():
    asked = []

    def missing(name: str) -> bool:
        asked.append(name)
        return False

    manager = GatewayManager({"CTP": CtpSettings.from_environment("CTP", ENVIRONMENT)},
                             {"CTP": CtpGateway}, locale_available=missing)
    # The type is what is checked; a gateway that never logs in needs no engine behind it.
    manager.bind({"CTP": CtpGateway.__new__(CtpGateway)})
    with pytest.raises(UserInputError) as error:
        manager.connect(main_engine=None)  # raises before any gateway is asked to connect
    message = str(error.value)
    assert asked == [GBK_LOCALE]
    assert "\n" not in message
    assert "CTP gateway needs the zh_CN.GB18030 locale" in message
    assert "localedef -i zh_CN -f GB18030 zh_CN.GB18030" in message
    assert "pw-not-logged" not in message
