"""``python -m src.datafeed.ib``: option chain snapshots, the contract cache, and the scheduler daemon.

    snapshot --underlyings SPY,QQQ [--session auto|pre|open|post|weekend] [--max-expiries N] [--rate R]
             [--no-surface] [--resume RUN_ID]
    contracts show [--underlyings SPY]        the cache per underlying, and the latest runs
    contracts refresh --underlyings SPY [--force]
    run --underlyings SPY,QQQ [--post-underlyings ...] [--stream CONID,...] [--scan-code CODE]
        [--mode daemon|standalone]            daemon (default): the parent/child daemon restarts the
                                              scheduler when it dies; standalone: the scheduler itself

Connection from ``.env`` / the environment: ``IB_HOST``, ``IB_PORT``, ``IB_CLIENT_ID`` (read-only
connection). The database is the one of ``VNPY_DATABASE_*`` (SQLite under data/ by default).
Bad input is one line and exit code 2; TWS unreachable is exit code 3.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from src.core.cli import OneLineArgumentParser, positive_int, positive_number, run_cli
from src.core.config.env_settings import DatabaseSettings, load_dotenv_file
from src.core.config.errors import ConfigError, UserInputError
from src.core.logging_setup import configure_logging
from src.core.process.exit_codes import EXIT_GATEWAY_UNAVAILABLE, EXIT_OK
from src.paths import DATA_DIR, PROJECT_ROOT
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation

PROG = "python -m src.datafeed.ib"
LOG = logging.getLogger("ib_feed")
SESSIONS = ("auto", "pre", "open", "post", "weekend")


def symbols(text: str) -> tuple[str, ...]:
    items = tuple(part.strip().upper() for part in text.split(",") if part.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected comma-separated symbols, e.g. SPY,QQQ")
    return items


def con_ids(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated conIds, got {text!r}")
    return tuple(int(part) for part in parts)


def finite_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a rate such as 0.04, got {text!r}") from None
    if not -0.2 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a decimal rate between -0.2 and 1 (0.04 = 4 %), got {text}")
    return value


def moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO time such as 2025-08-29T17:00-04:00, got {text!r}") \
            from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description="Interactive Brokers option chains")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--connect-within", type=positive_number, default=30.0, metavar="SECONDS",
                        help="give up reaching TWS after this long (exit code 3)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)

    snapshot = commands.add_parser("snapshot", help="one session plan now: chain update and snapshot run")
    snapshot.add_argument("--underlyings", type=symbols, required=True)
    snapshot.add_argument("--session", choices=SESSIONS, default="auto",
                          help="auto: from the NYSE calendar; or force a plan")
    _feed_arguments(snapshot)
    snapshot.add_argument("--resume", type=positive_int, metavar="RUN_ID",
                          help="finish an interrupted run instead of starting one")
    snapshot.add_argument("--as-of", type=moment, help="choose the plan and the live expiries as of this time "
                                                       "(naive = UTC; replays and tests), not the clock")

    contracts = commands.add_parser("contracts", help="show or refresh the contract cache")
    contracts.add_argument("action", choices=("show", "refresh"))
    contracts.add_argument("--underlyings", type=symbols)
    contracts.add_argument("--force", action="store_true", help="refresh even if checked within 2 hours")
    contracts.add_argument("--as-of", type=moment, help="refresh as of this time (naive = UTC), not the clock")

    run = commands.add_parser("run", help="the scheduler: each session's plan whenever it is due")
    run.add_argument("--underlyings", type=symbols, required=True)
    run.add_argument("--post-underlyings", type=symbols, default=(), help="after-market list (up to 500)")
    run.add_argument("--stream", type=con_ids, default=(), help="conIds streamed while the market is open")
    run.add_argument("--scan-code", default="OPT_VOLUME_MOST_ACTIVE")
    _feed_arguments(run)
    run.add_argument("--mode", choices=("daemon", "standalone"), default="daemon")
    run.add_argument("--log-dir", type=Path, default=DATA_DIR / "logs")
    run.add_argument("--heartbeat-file", type=Path, help=argparse.SUPPRESS)
    return parser


def _feed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-expiries", type=positive_int, help="snapshot only the N nearest expiries")
    parser.add_argument("--rate", type=finite_rate, default=0.0,
                        help="continuously compounded rate for the surfaces (parity gives the forwards)")
    parser.add_argument("--no-surface", action="store_true", help="do not build and store vol surfaces")
    parser.add_argument("--strike-move", type=finite_rate, default=0.05,
                        help="relist strikes after the underlying moved this fraction (default 0.05)")


# ---------------------------------------------------------------------- settings


def connection_settings():
    from src.datafeed.ib.connection import ConnectionSettings

    try:
        return ConnectionSettings.from_environment(os.environ)
    except ValueError as error:
        raise ConfigError("environment", str(error).split(":")[0], str(error).split(": ", 1)[-1]) from None


def database_location() -> DatabaseLocation:
    settings = DatabaseSettings.from_environment()
    if settings.driver == "sqlite":
        Path(settings.database).parent.mkdir(parents=True, exist_ok=True)
    return DatabaseLocation(driver=settings.driver, database=settings.database, host=settings.host,
                            port=settings.port, user=settings.user, password=settings.password.reveal())


def open_store():
    from src.datafeed.ib.store import IbStore

    location = database_location()
    try:
        return IbStore.open(location)
    except Exception as error:  # peewee and the drivers raise many kinds
        detail = location.mask(str(error).splitlines()[0] if str(error) else type(error).__name__)
        raise UserInputError(f"cannot open {location.describe()}: {type(error).__name__}: {detail}") from None


def feed_options(args):
    from src.datafeed.ib.pipeline import FeedOptions

    try:
        return FeedOptions(underlyings=args.underlyings, post_underlyings=getattr(args, "post_underlyings", ()),
                           stream_con_ids=getattr(args, "stream", ()),
                           scan_code=getattr(args, "scan_code", "OPT_VOLUME_MOST_ACTIVE"),
                           strike_move_threshold=args.strike_move, max_expiries=args.max_expiries, rate=args.rate,
                           build_surfaces=not args.no_surface)
    except ValueError as error:
        raise UserInputError(str(error)) from None


def progress_printer(label: str):
    """A tqdm bar on a terminal, a log line every 30 s otherwise."""
    from tqdm import tqdm

    state: dict = {"bar": None, "done": 0, "logged": time.monotonic()}

    def update(done: int, total: int) -> None:
        if sys.stderr.isatty():
            if state["bar"] is None:
                state["bar"] = tqdm(total=total, desc=label, unit="contract")
            state["bar"].update(done - state["done"])
            if done >= total:
                state["bar"].close()
        elif time.monotonic() - state["logged"] >= 30 or done >= total:
            LOG.info("%s: %d/%d contracts", label, done, total)
            state["logged"] = time.monotonic()
        state["done"] = done
    return update


# ---------------------------------------------------------------------- commands


def main(argv: Sequence[str] | None = None) -> int:
    load_dotenv_file()
    args = build_parser().parse_args(argv)
    if args.command == "run" and args.mode == "daemon":
        return run_daemon(args, argv)
    if args.command != "run":
        configure_logging(args.log_level, console_level=args.log_level)
        logging.getLogger("ib_async").setLevel(logging.WARNING)
    if args.command == "contracts" and args.action == "refresh" and not args.underlyings:
        raise UserInputError("contracts refresh needs --underlyings")
    settings = connection_settings()
    if args.command in ("snapshot", "run"):
        feed_options(args)          # refuse impossible options before connecting
    store = open_store()
    try:
        if args.command == "contracts" and args.action == "show":
            return show_contracts(store, args.underlyings)
        if args.command == "snapshot" and args.resume and store.run(args.resume) is None:
            raise UserInputError(f"--resume: no snapshot run {args.resume} in {store.location.describe()}")
        return asyncio.run(_connected(args, settings, store))
    finally:
        store.close()


async def _connected(args, settings, store) -> int:
    from src.datafeed.ib.connection import ConnectionLost, IbConnection
    from src.datafeed.ib.governor import RateGovernor
    from src.datafeed.ib.pipeline import ChainPipeline, describe
    from src.datafeed.ib.sessions import parse_session

    connection = IbConnection(settings, RateGovernor())
    try:
        try:
            await connection.ensure(within=args.connect_within)
        except ConnectionLost as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return EXIT_GATEWAY_UNAVAILABLE
        if args.command == "contracts":
            return await refresh_contracts(connection, store, args)
        if args.command == "run":
            return await run_scheduler(connection, store, args)
        as_of = args.as_of
        now = (lambda: as_of) if as_of is not None else (lambda: datetime.now(timezone.utc))
        pipeline = ChainPipeline(connection, store, feed_options(args), progress=progress_printer("snapshot"),
                                 now=now)
        if args.resume:
            result = await pipeline.runner.resume(args.resume)
            print(f"run {result.run_id}: {result.status}, requested {result.requested}, filled {result.filled}, "
                  f"errors {result.errors or 'none'}, resumes {result.resumes}")
            return EXIT_OK
        try:
            window, plan = parse_session(args.session, now())
        except ValueError as error:
            raise UserInputError(str(error)) from None
        report = await pipeline.execute(window, plan)
        await pipeline.streams.stop()
        for line in describe(report):
            print(line)
        return EXIT_OK
    except ConnectionLost as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_GATEWAY_UNAVAILABLE
    finally:
        connection.disconnect()


def show_contracts(store, underlyings) -> int:
    rows = [row for row in store.summary() if not underlyings or row["underlying"] in underlyings]
    if not rows:
        print("the contract cache is empty" + (f" for {', '.join(underlyings)}" if underlyings else ""))
    for row in rows:
        check = store.last_check(row["underlying"])
        checked = f"checked {check.checked_at:%Y-%m-%d %H:%M}" if check else "never checked"
        print(f"{row['underlying']:<8} {row['contracts']:>6} contracts  {row['expiries']:>3} expiries  "
              f"{row['first_expiry']} .. {row['last_expiry']}  {checked}")
    for run in store.runs(limit=5):
        errors = ", ".join(f"{c}: {n}" for c, n in sorted(run.errors.items())) or "none"
        print(f"run {run.run_id} {run.session:<8} type {run.market_data_type} {run.status:<11} "
              f"{run.filled}/{run.requested} filled, errors {errors}, started {run.started_at:%Y-%m-%d %H:%M}")
    return EXIT_OK


async def refresh_contracts(connection, store, args) -> int:
    from src.datafeed.ib.chain import ChainBuilder, ChainMaintainer

    maintainer = ChainMaintainer(ChainBuilder(connection.ib, connection.governor), store)
    for symbol in args.underlyings:
        report = await maintainer.refresh(symbol, now=args.as_of or datetime.now(timezone.utc), force=args.force)
        print(f"{symbol}: {report.reason}; new expiries {len(report.new_expiries)}, new contracts "
              f"{report.new_contracts}, purged {report.purged}, requests {report.requests}")
    return EXIT_OK


async def run_scheduler(connection, store, args) -> int:
    from src.core.process.heartbeat import HeartbeatWriter
    from src.datafeed.ib.pipeline import ChainPipeline
    from src.datafeed.ib.scheduler import Scheduler

    pipeline = ChainPipeline(connection, store, feed_options(args), progress=progress_printer("snapshot"))
    scheduler = Scheduler(pipeline)
    stop = threading.Event()
    from src.core.signals import install_stop_handlers

    install_stop_handlers(stop, "ib scheduler")
    loop = asyncio.get_running_loop()
    watcher = threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(scheduler.request_stop)),
                               daemon=True)
    watcher.start()
    heartbeat = HeartbeatWriter(args.heartbeat_file, 5.0) if args.heartbeat_file else None
    if heartbeat is not None:
        heartbeat.start()
    try:
        await scheduler.run()
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        stop.set()
    return EXIT_OK


def run_daemon(args, argv: Sequence[str] | None) -> int:
    """The parent/child daemon: the child is this command with ``--mode standalone``, restarted if it dies."""
    from src.core.config.schema import RuntimeConfig, TradingPeriod
    from src.core.process.parent_process import ParentProcess
    from src.core.signals import install_stop_handlers

    log_dir = (args.log_dir / "ib_feed").resolve()
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserInputError(f"--log-dir: cannot create {log_dir}: {error.strerror}") from None
    configure_logging(args.log_level, log_file=log_dir / "daemon.log")
    connection_settings()        # refuse a malformed IB_* setting here, not in a restart loop
    database_location()
    heartbeat_file = log_dir / "heartbeat"
    child_args = [a for a in (list(argv) if argv is not None else sys.argv[1:])]
    command = [sys.executable, "-m", "src.datafeed.ib", *child_args, "--mode", "standalone",
               "--heartbeat-file", str(heartbeat_file)]
    from datetime import time as clock_time

    runtime = RuntimeConfig(max_restart_count=20, restart_delay=5.0,
                            trading_periods=(TradingPeriod(clock_time(0, 0), clock_time(23, 59, 59)),),
                            max_restart_delay=300.0, heartbeat_interval=5.0, heartbeat_timeout=600.0,
                            stop_timeout=30.0)
    parent = ParentProcess(command, runtime, heartbeat_file, None, name="daemon[ib]", cwd=PROJECT_ROOT)
    install_stop_handlers(parent.stop_event, "daemon")
    return parent.run()


def entry() -> None:
    run_cli(main, prog=PROG)
