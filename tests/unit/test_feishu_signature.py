"""Feishu's custom-bot signature, pinned to the published vector, and the alert rules (no network)."""
from __future__ import annotations

from datetime import datetime

import pytest

from src.core.config.secret_value import Secret
from src.strategy.domain.event.decision_events import DecisionRefusedEvent
from src.strategy.infrastructure.notification.feishu_event_handler import (
    FeishuEventHandler,
    FeishuSettings,
    Severity,
    sign,
)

AT = datetime(2026, 1, 12, 10, 0)


def test_the_signature_matches_the_published_vector():
    assert sign(1599360473, "test-secret") == "wSds2BzzFIIGf/WrhUO+NI1q/9j+FRJd3JNHKAq0NZY="


def test_settings_come_from_the_environment_and_hide_their_values():
    from src.core.config.env_settings import feishu_settings_from_environment
    from src.core.config.errors import ConfigError

    assert feishu_settings_from_environment({}) is None
    assert feishu_settings_from_environment({"FEISHU_WEBHOOK_URL": "your_feishu_webhook_url"}) is None
    settings = feishu_settings_from_environment({"FEISHU_WEBHOOK_URL": "https://example.invalid/hook/abc-secret-path",
                                                "FEISHU_WEBHOOK_SECRET": "s3cr3t", "FEISHU_WEBHOOK_KEYWORD": "期权"})
    assert settings.keyword == "期权"
    assert "abc-secret-path" not in repr(settings) and "s3cr3t" not in repr(settings)
    with pytest.raises(ConfigError) as error:
        feishu_settings_from_environment({"FEISHU_WEBHOOK_URL": "ftp://host/abc-secret-path"})
    assert "abc-secret-path" not in str(error.value)


def test_refusals_are_sent_only_for_the_stages_that_matter_and_by_severity():
    handler = FeishuEventHandler(FeishuSettings(Secret("http://127.0.0.1:9/hook/x")), "vol_15m")
    try:
        assert handler.alert_for(DecisionRefusedEvent(AT, stage="option_selection", vt_symbol=None,
                                                      reason="no put")) is None
        alert = handler.alert_for(DecisionRefusedEvent(AT, stage="risk", vt_symbol="IO2602-P-4400.CFFEX",
                                                       reason="delta -0.84 exceeds limit 0.8"))
        assert alert.severity is Severity.WARNING and alert.title == "vol_15m: DecisionRefusedEvent"
        assert "reason: delta -0.84 exceeds limit 0.8" in alert.lines
        assert "http://127.0.0.1:9/hook/x" not in repr(handler)
    finally:
        handler.close(0.1)
    quiet = FeishuEventHandler(FeishuSettings(Secret("http://127.0.0.1:9/hook/x")), min_severity=Severity.CRITICAL)
    try:
        assert quiet.alert_for(DecisionRefusedEvent(AT, stage="risk", vt_symbol=None, reason="x")) is None
    finally:
        quiet.close(0.1)
