"""``python -m src.main.recorder``: record ticks and 1-minute bars into the configured database.

  --mode standalone|daemon   standalone (default) records until stopped; daemon runs the standalone recorder as
                             its child during runtime.trading_periods, restarting it like the strategy daemon
  --recorder-setting F       what to record (default config/general/data_recorder_setting.json)
  --config F                 the runtime section (trading periods, restarts, heartbeat) for the daemon
                             (default config/strategy_config.yaml)
  --log-level L, --log-dir D logs in D/recorder/ (default data/logs)
  --replay [--replay-start D --replay-end D --speed N --replay-source database|sample]
                             record a replay instead of CTP/SOPT (tests, re-recording stored data)
  --flush-interval S         seconds between writes (default 1)

Live, the contracts are subscribed on the CTP/SOPT gateways of .env once these
list them. Bad flags or settings stop with one line and exit code 2.
"""
from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from src.core.config.config_loader import DEFAULT_RECORDER_SETTING, DEFAULT_STRATEGY_CONFIG, load_recorder_setting, \
    load_strategy_config
from src.core.config.errors import UserInputError
from src.main.main import DEFAULT_LOG_DIR, require_market_data_settings
from src.core.process.heartbeat import HeartbeatWriter
from src.core.cli import OneLineArgumentParser, iso_date, non_negative_number, positive_number, run_cli
from src.core.logging_setup import LOG_LEVELS, configure_logging
from src.core.signals import install_stop_handlers

PROG = "python -m src.main.recorder"
VARIANT = "recorder"
REPLAY_FLAGS = ("replay_start", "replay_end", "speed", "replay_source")


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description="Record ticks and 1-minute bars into the database.")
    parser.add_argument("--mode", choices=("standalone", "daemon"), default="standalone")
    parser.add_argument("--recorder-setting", type=Path, default=DEFAULT_RECORDER_SETTING)
    parser.add_argument("--config", type=Path, default=DEFAULT_STRATEGY_CONFIG)
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO")
    parser.add_argument("--log-dir", type=Path, default=DEFAULT_LOG_DIR)
    parser.add_argument("--replay", action="store_true")
    parser.add_argument("--replay-start", type=iso_date, default=None)
    parser.add_argument("--replay-end", type=iso_date, default=None)
    parser.add_argument("--speed", type=non_negative_number, default=None)
    parser.add_argument("--replay-source", choices=("database", "sample"), default=None)
    parser.add_argument("--flush-interval", type=positive_number, default=1.0)
    parser.add_argument("--heartbeat-file", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.replay:
        if args.replay_start is None or args.replay_end is None:
            parser.error("--replay needs --replay-start and --replay-end")
        if args.replay_start > args.replay_end:
            parser.error(f"--replay-start {args.replay_start} is after --replay-end {args.replay_end}")
    else:
        given = [name for name in REPLAY_FLAGS if getattr(args, name) is not None]
        if given:
            parser.error(f"--{given[0].replace('_', '-')} needs --replay")
    runtime = load_strategy_config(args.config).runtime
    load_recorder_setting(args.recorder_setting)
    log_dir = (args.log_dir / VARIANT).resolve()
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserInputError(f"--log-dir: cannot create {log_dir}: {error.strerror}") from None
    if args.mode == "daemon":
        return _run_daemon(args, runtime, log_dir)
    return _run_standalone(args, runtime, log_dir)


def _run_standalone(args: argparse.Namespace, runtime, log_dir: Path) -> int:
    as_child = args.heartbeat_file is not None
    configure_logging(args.log_level, log_file=log_dir / ("child.log" if as_child else "recorder.log"),
                      console_level="WARNING" if as_child else args.log_level)
    stop = threading.Event()
    install_stop_handlers(stop, "recorder")
    heartbeat = None
    if as_child:
        heartbeat = HeartbeatWriter(args.heartbeat_file, runtime.heartbeat_interval)
        heartbeat.start()
    try:
        from src.main.process.recorder_process import RecorderProcess, RecorderReplay

        replay = RecorderReplay(args.replay_start, args.replay_end, args.speed or 0.0,
                                args.replay_source or "database") if args.replay else None
        return RecorderProcess(args.recorder_setting.resolve(), runtime, stop, replay, heartbeat,
                               args.flush_interval).run()
    finally:
        if heartbeat is not None:
            heartbeat.stop()


def _run_daemon(args: argparse.Namespace, runtime, log_dir: Path) -> int:
    from src.core.process.parent_process import ParentProcess
    from src.core.process.supervision import TradingWindow
    from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

    if not args.replay:
        require_market_data_settings("the recorder and its daemon", "--replay")
    configure_logging(args.log_level, log_file=log_dir / "daemon.log")
    heartbeat_file = log_dir / "heartbeat"
    command = [sys.executable, "-m", "src.main.recorder", "--mode", "standalone",
               "--recorder-setting", str(args.recorder_setting.resolve()), "--config", str(args.config.resolve()),
               "--log-level", args.log_level, "--log-dir", str(args.log_dir.resolve()),
               "--flush-interval", repr(args.flush_interval), "--heartbeat-file", str(heartbeat_file)]
    window = None
    if args.replay:
        command += ["--replay", "--replay-start", args.replay_start.isoformat(),
                    "--replay-end", args.replay_end.isoformat()]
        if args.speed is not None:
            command += ["--speed", repr(args.speed)]
        if args.replay_source is not None:
            command += ["--replay-source", args.replay_source]
    else:
        window = TradingWindow(runtime.trading_periods, load_cn_calendar() if runtime.trading_days_only else None)
    parent = ParentProcess(command, runtime, heartbeat_file, window, name="daemon[recorder]")
    install_stop_handlers(parent.stop_event, "daemon")
    return parent.run()


if __name__ == "__main__":
    run_cli(main, prog=PROG)
