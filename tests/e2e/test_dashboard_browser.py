"""The dashboard in a real headless Chromium while a paper replay writes its snapshots and events.

Marked ``browser``: it skips without Debian's chromium + chromium-driver, except under CI where
scripts/test.sh refuses to run without them. Screenshots of both pages go to the test's temp folder
(and to $DASHBOARD_SCREENSHOT_DIR when set).
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from src.strategy.infrastructure.monitoring import StrategyMonitor
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from tests.e2e.browser_support import (
    MISSING_REASON,
    DashboardProcess,
    browser_available,
    console_errors,
    save_screenshot,
    start_chromium,
    wait_for,
)
from tests.e2e.daemon_support import Process, environment
from tests.e2e.sample_database import copy
from tests.notification_servers.feishu_webhook import FeishuWebhookServer
from tests.web.helpers import DecisionRefusedEvent, snapshot_payload

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHANGHAI = ZoneInfo("Asia/Shanghai")
VARIANT = "volatility_strategy@replay"
XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture
def chrome(tmp_path):
    if not browser_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {MISSING_REASON}")
        pytest.skip(MISSING_REASON)
    driver = start_chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


def js(driver, script: str):
    return driver.execute_script(script)


def test_a_paper_replay_shows_live_on_both_pages_then_goes_stale_and_html_stays_text(
        tmp_path, sample_market_database, chrome):
    database = copy(sample_market_database, tmp_path / "db")
    webhook = FeishuWebhookServer(secret="replay-secret").start()
    env = environment(database, FEISHU_WEBHOOK_URL=webhook.url, FEISHU_WEBHOOK_SECRET="replay-secret")
    dashboard = DashboardProcess(environment(database), tmp_path / "dashboard.txt", "--stale-seconds", "4",
                                 "--poll-seconds", "0.1", "--log-dir", str(tmp_path / "logs"))
    replay = None
    try:
        chrome.get(dashboard.url + "/")
        wait_for(lambda: js(chrome, "return document.body.dataset.connection") == "connected", 20, "the socket")
        replay = Process(["src/main/main.py", "--paper", "--replay", "--replay-start", "2026-01-12",
                          "--replay-end", "2026-01-13", "--replay-warmup-days", "0", "--speed", "0",
                          "--log-dir", str(tmp_path / "logs"), "--no-ui"], env, tmp_path / "replay.txt")

        # Overview: the card appears and advances through pushes alone (the page reloads by REST every 30 s).
        card = f'document.querySelector(\'.card[data-variant="{VARIANT}"]\')'
        first = int(wait_for(lambda: js(chrome, f"return {card} && {card}.dataset.snapshotId"), 120,
                             "the replay's card"))
        wait_for(lambda: int(js(chrome, f"return {card}.dataset.snapshotId")) >= first + 3, 60,
                 "the card to advance")
        assert int(js(chrome, "return document.body.dataset.pushes || 0")) >= 3

        # The variant's page, opened in a second tab while the replay runs.
        overview = chrome.current_window_handle
        chrome.switch_to.new_window("tab")
        chrome.get(dashboard.url + "/dashboard/" + quote(VARIANT, safe=""))
        wait_for(lambda: js(chrome, "return document.body.dataset.connection") == "connected", 20, "the socket")
        opened_at = int(wait_for(lambda: js(chrome, "return document.body.dataset.snapshotId"), 20, "a snapshot"))
        events_at_open = js(chrome, "return document.querySelectorAll('#events tbody tr').length")
        wait_for(lambda: int(js(chrome, "return document.body.dataset.snapshotId")) > opened_at
                 and js(chrome, "return document.querySelectorAll('#events tbody tr').length") > events_at_open,
                 120, "snapshots and events pushed to the open page")
        assert js(chrome, "return document.querySelectorAll('#pnl-chart .main-svg').length") > 0, "plotly drew"
        assert replay.wait(300) == 0, replay.text()[-3000:]

        # Writes stopped: the stale badge shows on both pages.
        wait_for(lambda: js(chrome, "return !document.getElementById('stale').classList.contains('hidden')"), 30,
                 "the stale badge on the variant's page")
        rows = js(chrome, "return document.querySelectorAll('#positions tbody tr').length")
        save_screenshot(chrome, tmp_path / "screens" / "dashboard-variant.png")
        chrome.switch_to.window(overview)
        wait_for(lambda: js(chrome, f"return !{card}.querySelector('.badge.stale').classList.contains('hidden')"),
                 30, "the stale badge on the card")
        save_screenshot(chrome, tmp_path / "screens" / "dashboard-index.png")

        # HTML in a strategy name and in event text is shown as text, never run.
        location = DatabaseLocation.sqlite(database)
        monitor = StrategyMonitor.open(location, linger_seconds=0.0)
        at = datetime(2026, 1, 13, 15, 0, tzinfo=SHANGHAI)
        monitor.record_snapshot(XSS, snapshot_payload(1), at)
        monitor.record_events(VARIANT, [DecisionRefusedEvent(at, stage=XSS, reason=f"</td>{XSS}")])
        assert monitor.flush(20)
        monitor.close()
        xss_card = wait_for(lambda: js(chrome, "return [...document.querySelectorAll('.card h3 a')]"
                                               ".map(a => a.textContent).find(t => t.includes('<img'))"), 20,
                            "the card named with HTML")
        assert xss_card == XSS
        assert js(chrome, "return document.querySelectorAll('#cards img').length") == 0
        chrome.switch_to.window(chrome.window_handles[1])
        cell = wait_for(lambda: js(chrome, "return [...document.querySelectorAll('#events td.details')]"
                                           ".map(td => td.textContent).find(t => t.includes('<img'))"), 20,
                        "the event with HTML in the log")
        assert f"reason=</td>{XSS}" in cell
        assert js(chrome, "return document.querySelectorAll('#events img').length") == 0
        assert js(chrome, "return window.__xss === undefined") is True
        assert rows >= 1
        errors = [e for e in console_errors(chrome) if "favicon" not in e]
        assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors

        # The replay's child sent its alerts to the (local, signature-checking) Feishu webhook.
        assert webhook.accepted and webhook.refused == {}
        sent = json.dumps([message for _, message in webhook.accepted], ensure_ascii=False)
        assert "SignalEvent" in sent and VARIANT in sent
        assert "replay-secret" not in replay.text() and webhook.url not in replay.text()
    finally:
        if replay is not None:
            replay.kill_everything()
        dashboard.stop()
        webhook.stop()
