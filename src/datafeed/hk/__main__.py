"""``python -m src.datafeed.hk run --codes 700.HK,9988.HK``: record Hong Kong trades and order books from AllTick.

  --codes C,C,...          AllTick HK codes (700.HK, 9988.HK; 00700.HK is read as 700.HK)
  --mode daemon|standalone daemon (default): a parent runs the recorder as its child during HKEX hours
                           (09:00-12:15 and 12:55-16:15 Hong Kong time, weekdays), restarts it when it
                           fails or hangs; standalone: record in this process until stopped
  --anytime                daemon: run the child at any time, not only during HKEX hours
  --url URL                the AllTick endpoint (default wss://quote.alltick.io/quote-stock-b-ws-api)
  --no-depth, --depth-level N   order books off, or their depth (default 5)
  --no-bars                do not keep 1-minute bars (BarPipeline, HKEX sessions) in vnpy's bar table
  --metrics-interval S     seconds between metric lines and monitor rows (default 60)
  --duration S             stop after S seconds (standalone)
  --batch-rows N, --batch-ms MS, --buffer-rows N, --overflow drop_oldest|drop_newest
  --heartbeat-interval S, --stall-timeout S, --request-interval S, --max-codes N, --healthy-after S,
  --backoff-max S          client settings (AllTick: 10 s heartbeat, 1 request/s, plan's codes per connection)
  --log-level L, --log-dir D    logs in D/datafeed-hk/ (default data/logs)

The token is ALLTICK_TOKEN in the environment or .env (never on the command line,
never logged). The database is the project's (VNPY_DATABASE_*). Bad flags, no
token, codes beyond the plan, or AllTick refusing the token or plan (401, 604,
605): one line, exit code 2.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from datetime import date
from datetime import time as time_of_day
from pathlib import Path

from src.core.cli import OneLineArgumentParser, positive_int, positive_number, run_cli
from src.core.config.env_settings import DatabaseSettings, load_dotenv_file
from src.core.config.errors import UserInputError
from src.core.config.secret_value import Secret
from src.core.logging_setup import LOG_LEVELS, configure_logging
from src.core.signals import install_stop_handlers
from src.datafeed.hk import protocol as p
from src.datafeed.hk.client import ClientSettings, FeedSettingsError
from src.datafeed.hk.service import EXIT_OK, HkFeedService, ServiceSettings
from src.datafeed.hk.storage import Overflow, StoreSettings
from src.paths import DATA_DIR
from src.strategy.infrastructure.persistence.database_connection import DatabaseConnectionError, DatabaseLocation

PROG = "python -m src.datafeed.hk"
VARIANT = "datafeed-hk"
DEFAULT_LOG_DIR = DATA_DIR / "logs"
HK_PERIODS = (("09:00", "12:15"), ("12:55", "16:15"))

logger = logging.getLogger("datafeed.hk")


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description="Hong Kong ticks from AllTick into the database.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)
    run = commands.add_parser("run", help="record trades and order books")
    run.add_argument("--codes", required=True, type=_codes)
    run.add_argument("--mode", choices=("daemon", "standalone"), default="daemon")
    run.add_argument("--anytime", action="store_true")
    run.add_argument("--url", default=p.DEFAULT_URL)
    run.add_argument("--no-depth", action="store_true")
    run.add_argument("--no-bars", action="store_true")
    run.add_argument("--depth-level", type=positive_int, default=5)
    run.add_argument("--metrics-interval", type=positive_number, default=60.0)
    run.add_argument("--duration", type=positive_number, default=None)
    run.add_argument("--batch-rows", type=positive_int, default=2000)
    run.add_argument("--batch-ms", type=positive_number, default=100.0)
    run.add_argument("--buffer-rows", type=positive_int, default=200_000)
    run.add_argument("--overflow", choices=[o.value for o in Overflow], default=Overflow.DROP_OLDEST.value)
    run.add_argument("--heartbeat-interval", type=positive_number, default=10.0)
    run.add_argument("--stall-timeout", type=positive_number, default=60.0)
    run.add_argument("--request-interval", type=positive_number, default=1.0)
    run.add_argument("--max-codes", type=positive_int, default=100)
    run.add_argument("--healthy-after", type=positive_number, default=60.0)
    run.add_argument("--backoff-max", type=positive_number, default=60.0)
    run.add_argument("--max-restarts", type=positive_int, default=10)
    run.add_argument("--log-level", choices=LOG_LEVELS, default="INFO")
    run.add_argument("--log-dir", type=Path, default=DEFAULT_LOG_DIR)
    run.add_argument("--heartbeat-file", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def _codes(text: str) -> tuple[str, ...]:
    codes = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            code = p.normalise_hk_code(part)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        if code not in codes:
            codes.append(code)
    if not codes:
        raise argparse.ArgumentTypeError("no codes given")
    return tuple(codes)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    load_dotenv_file()
    token = Secret(os.environ.get("ALLTICK_TOKEN", "").strip())
    if not token:
        raise UserInputError("ALLTICK_TOKEN is not set: put your AllTick token in .env (ALLTICK_TOKEN=...)")
    settings = _service_settings(args)
    log_dir = args.log_dir.resolve() / VARIANT
    if args.mode == "daemon":
        return _run_daemon(args, log_dir)
    return _run_standalone(args, settings, token, log_dir)


def _service_settings(args: argparse.Namespace) -> ServiceSettings:
    try:
        client = ClientSettings(url=args.url, depth=not args.no_depth, depth_level=args.depth_level,
                                heartbeat_interval=args.heartbeat_interval, stall_timeout=args.stall_timeout,
                                request_interval=args.request_interval, max_codes_per_connection=args.max_codes,
                                healthy_after=args.healthy_after, backoff_max=max(args.backoff_max, 1.0))
        if len(args.codes) > args.max_codes:
            raise FeedSettingsError(f"--codes: {len(args.codes)} codes but the plan allows {args.max_codes} per "
                                    f"connection (--max-codes); AllTick would silently ignore the rest")
        store = StoreSettings(batch_rows=args.batch_rows, batch_ms=args.batch_ms,
                              capacity=max(args.buffer_rows, args.batch_rows), overflow=Overflow(args.overflow))
    except (FeedSettingsError, ValueError) as error:
        raise UserInputError(str(error)) from None
    return ServiceSettings(codes=args.codes, client=client, store=store, metrics_interval=args.metrics_interval,
                           duration=args.duration)


def _database_location() -> DatabaseLocation:
    settings = DatabaseSettings.from_environment()
    if settings.driver == "sqlite":
        Path(settings.database).parent.mkdir(parents=True, exist_ok=True)
    return DatabaseLocation(driver=settings.driver, database=settings.database, host=settings.host,
                            port=settings.port, user=settings.user, password=settings.password.reveal())


def _run_standalone(args: argparse.Namespace, settings: ServiceSettings, token: Secret, log_dir: Path) -> int:
    as_child = args.heartbeat_file is not None
    configure_logging(args.log_level, log_file=log_dir / ("child.log" if as_child else "feed.log"),
                      console_level="WARNING" if as_child else args.log_level)
    stop = threading.Event()
    install_stop_handlers(stop, "datafeed-hk")
    bar_database = None
    if not args.no_bars:
        from src.core.database_factory import create_database

        try:
            bar_database = create_database(DatabaseSettings.from_environment())
        except UserInputError as error:
            if as_child:  # the database may come back: exit 1 and let the daemon restart the child
                logger.error("%s", error)
                return 1
            raise
    service = HkFeedService(token, _database_location(), settings, bar_database=bar_database)
    heartbeat = _start_heartbeat(args.heartbeat_file, service) if as_child else None
    try:
        code = service.run(stop)
    except DatabaseConnectionError as error:
        if as_child:  # the database may come back: exit 1 and let the daemon restart the child
            logger.error("%s", error)
            return 1
        raise UserInputError(str(error)) from None
    finally:
        if heartbeat is not None:
            heartbeat.stop()
    if code != EXIT_OK and service.client is not None and service.client.fatal is not None:
        raise UserInputError(str(service.client.fatal))
    return code


def _start_heartbeat(path: Path, service: HkFeedService):
    """Beat while the feed's loop turns: a child stuck in a callback stops beating and the daemon replaces it."""
    from src.core.process.heartbeat import HeartbeatWriter

    writer = HeartbeatWriter(path, 5.0, probe=lambda: service.alive(30.0))
    writer.start()
    return writer


class _Weekdays:
    """HKEX trading days as weekdays (Hong Kong holidays are not known here)."""

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5


def _run_daemon(args: argparse.Namespace, log_dir: Path) -> int:
    from src.core.config.schema import RuntimeConfig, TradingPeriod
    from src.core.process.parent_process import ParentProcess
    from src.core.process.supervision import TradingWindow

    configure_logging(args.log_level, log_file=log_dir / "daemon.log")
    heartbeat_file = log_dir / "heartbeat"
    periods = tuple(TradingPeriod(time_of_day.fromisoformat(a), time_of_day.fromisoformat(b)) for a, b in HK_PERIODS)
    runtime = RuntimeConfig(max_restart_count=args.max_restarts, restart_delay=1.0, trading_periods=periods,
                            max_restart_delay=60.0, healthy_reset_seconds=600.0, heartbeat_interval=5.0,
                            heartbeat_timeout=60.0, stop_timeout=30.0)
    command = [sys.executable, "-m", "src.datafeed.hk", *_child_arguments(args), "--mode", "standalone",
               "--heartbeat-file", str(heartbeat_file)]
    window = None if args.anytime else TradingWindow(periods, _Weekdays())
    parent = ParentProcess(command, runtime, heartbeat_file, window, name="daemon[datafeed-hk]")
    install_stop_handlers(parent.stop_event, "daemon")
    return parent.run()


def _child_arguments(args: argparse.Namespace) -> list[str]:
    """The same run command, for the child (without --mode, --anytime, --max-restarts)."""
    argv = ["run", "--codes", ",".join(args.codes), "--url", args.url, "--depth-level", str(args.depth_level),
            "--metrics-interval", repr(args.metrics_interval), "--batch-rows", str(args.batch_rows),
            "--batch-ms", repr(args.batch_ms), "--buffer-rows", str(args.buffer_rows), "--overflow", args.overflow,
            "--heartbeat-interval", repr(args.heartbeat_interval), "--stall-timeout", repr(args.stall_timeout),
            "--request-interval", repr(args.request_interval), "--max-codes", str(args.max_codes),
            "--healthy-after", repr(args.healthy_after), "--backoff-max", repr(args.backoff_max),
            "--log-level", args.log_level, "--log-dir", str(args.log_dir.resolve())]
    if args.no_depth:
        argv.append("--no-depth")
    if args.no_bars:
        argv.append("--no-bars")
    if args.duration is not None:
        argv += ["--duration", repr(args.duration)]
    return argv


if __name__ == "__main__":
    run_cli(main, prog=PROG)

