"""The strategy process: ``python src/main/main.py`` (or ``python -m src.main.main``).

  --mode standalone   one process: engines, gateways, strategies (the default; what the daemon runs as its child)
  --mode daemon       a supervising parent that runs the standalone process as its child during the trading
                      periods, restarts it with backoff when it fails or hangs, and stops it cleanly

  --config F            global configuration (default config/strategy_config.yaml)
  --override-config F   timeframe file merged over it (config/timeframe/15m.yaml)
  --log-level L         DEBUG, INFO, WARNING or ERROR (default INFO)
  --log-dir D           logs go to D/<variant>/ (default data/logs; variant: the override file's name,
                        "default" without one, prefixed "paper-" for paper trading), rotated at 20 MB
  --no-ui               no window (the daemon's child never has one; without a display there is none either)
  --paper               simulated fills: on live CTP/SOPT market data (vnpy_paperaccount), or with --replay
  --replay              offline paper trading on stored data (implies --paper); exits 0 at the end of the data
  --replay-start D, --replay-end D    replayed trading days (default 2026-01-12 and two trading days later)
  --speed N             replay speed: N times real time, 0 = as fast as possible (default 0)
  --replay-source S     database (default: the configured database) or sample (generated in memory)
  --sample-market       with --replay on the database: create the SYNTHETIC sample market there when it has
                        no bars for the dates (refused in a database holding real IF/IM/IO/MO bars)
  --replay-warmup-days N  trading days replayed before --replay-start without trading (default: what the
                        strategies' indicators need, as in the backtest)
  --replay-quotes       with --replay on the sample market: its quote table (true bid, ask, sizes) on the
                        replayed ticks, instead of quotes estimated around each print
  --capital N           paper trading capital (default 1000000)
  --trading-target F    products to trade (default config/general/trading_target.yaml)

Bad flags or configuration stop with one line and exit code 2.
"""
from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (python src/main/main.py): import from the repository root, never from src/main itself,
    # whose folders (config, process, utils) would shadow top-level modules of the same names.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
    sys.path.insert(0, str(_HERE.parents[1]))

import argparse  # noqa: E402
import threading  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from datetime import date  # noqa: E402

from src.core.config.config_loader import (  # noqa: E402
    DEFAULT_STRATEGY_CONFIG,
    DEFAULT_TRADING_TARGET,
    load_strategy_config,
)
from src.core.config.errors import UserInputError  # noqa: E402
from src.core.contract.trading_targets import load_tradable_targets  # noqa: E402
from src.core.config.schema import StrategyConfig  # noqa: E402
from src.core.process.heartbeat import HeartbeatWriter  # noqa: E402
from src.core.cli import (  # noqa: E402
    OneLineArgumentParser,
    iso_date,
    non_negative_int,
    non_negative_number,
    positive_number,
    run_cli,
)
from src.core.logging_setup import LOG_LEVELS, configure_logging  # noqa: E402
from src.core.signals import install_stop_handlers  # noqa: E402
from src.paths import DATA_DIR  # noqa: E402

PROG = "python src/main/main.py"
DEFAULT_LOG_DIR = DATA_DIR / "logs"
DEFAULT_REPLAY_START = date(2026, 1, 12)
DEFAULT_REPLAY_TRADING_DAYS = 3
DEFAULT_CAPITAL = 1_000_000.0
REPLAY_FLAGS = ("replay_start", "replay_end", "speed", "replay_source", "replay_warmup_days", "sample_market",
                "replay_quotes")


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description="Run the strategy process (standalone) or its daemon.")
    parser.add_argument("--mode", choices=("standalone", "daemon"), default="standalone")
    parser.add_argument("--config", type=Path, default=DEFAULT_STRATEGY_CONFIG)
    parser.add_argument("--override-config", type=Path, default=None)
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO")
    parser.add_argument("--log-dir", type=Path, default=DEFAULT_LOG_DIR)
    parser.add_argument("--no-ui", action="store_true", help="run without a window")
    parser.add_argument("--paper", action="store_true", help="simulated fills instead of the broker's")
    parser.add_argument("--replay", action="store_true", help="offline paper trading on stored data")
    parser.add_argument("--replay-start", type=iso_date, default=None)
    parser.add_argument("--replay-end", type=iso_date, default=None)
    parser.add_argument("--speed", type=non_negative_number, default=None,
                        help="replay speed, times real time; 0 = as fast as possible (default)")
    parser.add_argument("--replay-source", choices=("database", "sample"), default=None)
    parser.add_argument("--replay-warmup-days", type=non_negative_int, default=None)
    parser.add_argument("--sample-market", action="store_const", const=True, default=None,
                        help="with --replay: create the synthetic sample market when the database has no bars")
    parser.add_argument("--replay-quotes", action="store_const", const=True, default=None,
                        help="with --replay on the sample market: replay its quote table (true bid, ask and sizes) "
                             "instead of quotes estimated around the prints")
    parser.add_argument("--capital", type=positive_number, default=DEFAULT_CAPITAL)
    parser.add_argument("--trading-target", type=Path, default=DEFAULT_TRADING_TARGET)
    # Set by the daemon for its child: where to write the heartbeat.
    parser.add_argument("--heartbeat-file", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.replay:
        given = [name for name in REPLAY_FLAGS if getattr(args, name) is not None]
        if given:
            parser.error(f"--{given[0].replace('_', '-')} needs --replay")
    if args.mode == "daemon" and args.heartbeat_file is not None:
        parser.error("--heartbeat-file is set by the daemon for its child, not for a daemon")
    args.paper = args.paper or args.replay
    config = load_strategy_config(args.config, args.override_config)
    load_tradable_targets(args.trading_target)
    if args.replay:
        _resolve_replay_dates(args)
    variant = variant_name(args.override_config, args.paper)
    log_dir = (args.log_dir / variant).resolve()
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserInputError(f"--log-dir: cannot create {log_dir}: {error.strerror}") from None
    if args.mode == "daemon":
        return run_daemon(args, config, variant, log_dir)
    return run_standalone(args, config, variant, log_dir)


def variant_name(override_config: Path | None, paper: bool) -> str:
    name = override_config.stem if override_config is not None else "default"
    return f"paper-{name}" if paper else name


def _resolve_replay_dates(args: argparse.Namespace) -> None:
    from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

    calendar = load_cn_calendar()
    if args.replay_start is None and args.replay_end is None:
        args.replay_start = DEFAULT_REPLAY_START
    if args.replay_end is None:
        day = args.replay_start if calendar.is_trading_day(args.replay_start) else \
            calendar.next_trading_day(args.replay_start)
        for _ in range(DEFAULT_REPLAY_TRADING_DAYS - 1):
            day = calendar.next_trading_day(day)
        args.replay_end = day
    elif args.replay_start is None:
        day = args.replay_end if calendar.is_trading_day(args.replay_end) else \
            calendar.previous_trading_day(args.replay_end)
        for _ in range(DEFAULT_REPLAY_TRADING_DAYS - 1):
            day = calendar.previous_trading_day(day)
        args.replay_start = day
    if args.replay_start > args.replay_end:
        raise UserInputError(f"--replay-start {args.replay_start} is after --replay-end {args.replay_end}")


def require_market_data_settings(what: str = "live and paper trading", offline: str = "--paper --replay") -> None:
    """Live and paper daemons need a CTP or SOPT login: say so at start, not when the first period opens."""
    from src.core.config.env_settings import CtpSettings, load_dotenv_file

    load_dotenv_file()
    if not any(CtpSettings.from_environment(prefix) for prefix in ("CTP", "SOPT")):
        raise UserInputError(f"{what} need market data: set CTP_* (and SOPT_* for ETF options) in .env, "
                             f"or replay stored data offline with {offline}")


# ---------------------------------------------------------------------------------- standalone
def run_standalone(args: argparse.Namespace, config: StrategyConfig, variant: str, log_dir: Path) -> int:
    as_child = args.heartbeat_file is not None
    configure_logging(args.log_level, log_file=log_dir / ("child.log" if as_child else "standalone.log"),
                      console_level="WARNING" if as_child else args.log_level)
    stop = threading.Event()
    install_stop_handlers(stop, "child" if as_child else "process")
    heartbeat = None
    if as_child:
        # Before the heavy imports below: the daemon counts the child's silence from its start.
        heartbeat = HeartbeatWriter(args.heartbeat_file, config.runtime.heartbeat_interval)
        heartbeat.start()
    try:
        from src.main.process.child_process import ChildOptions, ChildProcess, ReplayOptions

        replay = None
        if args.replay:
            replay = ReplayOptions(start=args.replay_start, end=args.replay_end, speed=args.speed or 0.0,
                                   source=args.replay_source or "database", warmup_days=args.replay_warmup_days,
                                   sample_market=bool(args.sample_market), quotes=bool(args.replay_quotes))
        options = ChildOptions(
            config_file=args.config.resolve(),
            override_config_file=args.override_config.resolve() if args.override_config else None,
            trading_target_file=args.trading_target.resolve(), variant=variant, paper=args.paper,
            replay=replay, capital=args.capital, ui=not args.no_ui and not as_child)
        return ChildProcess(options, config, stop, heartbeat).run()
    finally:
        if heartbeat is not None:
            heartbeat.stop()


# -------------------------------------------------------------------------------------- daemon
def run_daemon(args: argparse.Namespace, config: StrategyConfig, variant: str, log_dir: Path) -> int:
    from src.core.process.parent_process import ParentProcess
    from src.core.process.supervision import TradingWindow
    from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

    window = None
    if not args.replay:
        require_market_data_settings()
    configure_logging(args.log_level, log_file=log_dir / "daemon.log")
    if not args.replay:
        calendar = load_cn_calendar() if config.runtime.trading_days_only else None
        window = TradingWindow(config.runtime.trading_periods, calendar)
    alerts = daemon_alerts(variant)
    parent = ParentProcess(child_command(args, log_dir / "heartbeat"), config.runtime, log_dir / "heartbeat", window,
                           name=f"daemon[{variant}]", notify=alerts.notify_daemon if alerts else None)
    install_stop_handlers(parent.stop_event, "daemon")
    try:
        return parent.run()
    finally:
        if alerts is not None:
            alerts.close()


def daemon_alerts(variant: str):
    """Feishu alerts for the daemon's restarts and give-ups when FEISHU_WEBHOOK_URL is set, else None."""
    from src.core.config.env_settings import feishu_settings_from_environment, load_dotenv_file
    from src.strategy.infrastructure.notification.feishu_event_handler import FeishuEventHandler

    load_dotenv_file()
    settings = feishu_settings_from_environment()
    return FeishuEventHandler(settings, f"daemon[{variant}]") if settings is not None else None


def child_command(args: argparse.Namespace, heartbeat_file: Path) -> list[str]:
    """The standalone process the daemon runs: the same flags, absolute paths, no window, a heartbeat file."""
    command = [sys.executable, "-m", "src.main.main", "--mode", "standalone",
               "--config", str(args.config.resolve()), "--log-level", args.log_level,
               "--log-dir", str(args.log_dir.resolve()), "--trading-target", str(args.trading_target.resolve()),
               "--capital", repr(args.capital), "--no-ui", "--heartbeat-file", str(heartbeat_file)]
    if args.override_config is not None:
        command += ["--override-config", str(args.override_config.resolve())]
    if args.paper:
        command.append("--paper")
    if args.replay:
        command += ["--replay", "--replay-start", args.replay_start.isoformat(),
                    "--replay-end", args.replay_end.isoformat()]
        if args.speed is not None:
            command += ["--speed", repr(args.speed)]
        if args.replay_source is not None:
            command += ["--replay-source", args.replay_source]
        if args.replay_warmup_days is not None:
            command += ["--replay-warmup-days", str(args.replay_warmup_days)]
        if args.sample_market:
            command.append("--sample-market")
        if args.replay_quotes:
            command.append("--replay-quotes")
    return command


if __name__ == "__main__":
    run_cli(main, prog=PROG)
