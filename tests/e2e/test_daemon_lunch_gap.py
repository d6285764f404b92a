"""The daemon keeps a real strategy process through the 11:30-13:00 lunch break of the shipped periods.

The child is the real standalone process (``python -m src.main.main --mode standalone``) paper-replaying the
sample market at real-time speed, so it runs until stopped like a live child (a live one needs a CTP login).
The daemon is the real ``ParentProcess`` with the shipped trading periods and gap setting, in a thread of
the test, on a clock the test moves: 11:20, then 11:30 once the child trades, then 13:00 once the child
went idle. Exchange time jumps; the processes, files and logs are real.
"""
from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.logging_setup import LOG_FORMAT
from src.core.process.parent_process import ParentProcess
from src.core.process.supervision import TradingWindow
from src.paths import PROJECT_ROOT
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from tests.e2e.daemon_support import SteppedClock, environment, lines_matching, read_file, wait_for, write_override
from tests.e2e.sample_database import copy
from tests.e2e.test_daemon import REPLAY_UNTIL_STOPPED, WAIT

MONDAY = datetime(2026, 1, 12, tzinfo=EXCHANGE_TIMEZONE)


def test_the_daemon_keeps_one_strategy_process_through_lunch(tmp_path, sample_market_database):
    database = copy(sample_market_database, tmp_path / "db")
    # The heartbeat is counted on the test's clock, which jumps 90 minutes: the timeout is above the jump.
    override = write_override(tmp_path, "e2e_lunch", strategy_name="e2e_lunch", runtime={
        "heartbeat_interval": 0.5, "heartbeat_timeout": 7200, "stop_timeout": 30, "restart_delay": 0.25})
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, override)
    shipped = load_strategy_config(DEFAULT_STRATEGY_CONFIG).runtime
    assert (config.runtime.trading_periods, config.runtime.keep_child_through_gap,
            config.runtime.gap_working_orders) == (shipped.trading_periods, 7200.0, "keep")
    folder = tmp_path / "logs" / "paper-e2e_lunch"
    folder.mkdir(parents=True)
    heartbeat = folder / "heartbeat"
    command = [sys.executable, "-m", "src.main.main", "--mode", "standalone", "--override-config", str(override),
               "--log-dir", str(tmp_path / "logs"), "--no-ui", "--heartbeat-file", str(heartbeat),
               *REPLAY_UNTIL_STOPPED]
    clock = SteppedClock(MONDAY.replace(hour=11, minute=20))
    daemon = ParentProcess(command, config.runtime, heartbeat,
                           TradingWindow(config.runtime.trading_periods, load_cn_calendar()), clock=clock,
                           name="daemon[paper-e2e_lunch]", environment=environment(database), cwd=PROJECT_ROOT)
    handler = logging.FileHandler(folder / "daemon.log")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    daemon_logger = logging.getLogger("daemon")
    daemon_logger.addHandler(handler)
    daemon_logger.setLevel(logging.INFO)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(daemon.run()), daemon=True)
    thread.start()
    child_log = read_file(folder / "child.log")
    try:
        wait_for(child_log, r"strategies started", 3 * WAIT, what="the child trading")
        clock.jump_to(MONDAY.replace(hour=11, minute=30, second=1))
        wait_for(child_log, r"e2e_lunch: session gap until 13:00: idle", WAIT, what="the strategy idle")
        clock.jump_to(MONDAY.replace(hour=13, minute=0, second=1))
        wait_for(child_log, r"e2e_lunch: session gap over: trading again", WAIT, what="the strategy trading again")
    finally:
        daemon.request_stop()
        thread.join(WAIT)
        daemon_logger.removeHandler(handler)
        handler.close()
    assert not thread.is_alive() and result == [0]

    text = (folder / "daemon.log").read_text()
    print("daemon.log:\n" + text)
    print("child.log, gap lines:\n" + "\n".join(lines_matching(child_log(), r"gap")))
    starts = lines_matching(text, r"started child pid (\d+)")
    assert len(starts) == 1, "one child through lunch"
    pid = starts[0].split("started child pid ")[1].split()[0]
    assert lines_matching(text, rf"gap 11:30-13:00 \(1 h 30 min\) is within runtime.keep_child_through_gap "
                                rf"\(2 h\): keeping child pid {pid} running")
    assert lines_matching(text, rf"gap 11:30-13:00 \(1 h 30 min\) over: child pid {pid} kept running through it")
    assert not lines_matching(text, r"outside the trading periods")
    child = child_log()
    assert lines_matching(child, r"the daemon keeps this process through the session gap 11:30-13:00")
    assert len(lines_matching(child, r"strategies started")) == 1, "no second start, warm-up or restore"
