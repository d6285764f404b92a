"""``python -m src.main.control``: the kill switch of a running (or not yet running) strategy.

  flatten --strategy NAME [--note TEXT]
      Cancels what the strategy has working and closes every position through its
      executor, then trades no more (no opening, no hedge), across restarts, until
      ``resume``.
  stop --strategy NAME [--note TEXT]
      Reduce-only: only closing and hedging orders; nothing is closed on purpose.
  resume --strategy NAME [--note TEXT]
      Ends a flatten or a stop.
  show [--strategy NAME] [--limit N]
      The newest commands written, newest first.

NAME is the name the strategy saves its state under: ``volatility_strategy`` live,
``volatility_strategy@paper`` for paper trading, ``volatility_strategy@replay`` for a replay.
The command is a row in the table ``strategy_control`` of the configured database
(``VNPY_DATABASE_*``); the running strategy reads it on its timer (every
``pre_trade.control_poll_seconds``, 1 s by default) and logs a ``KillSwitchEvent``.
The dashboard only shows it (read-only).

Exit codes: 0 written, 2 bad input (flags, strategy name, database).
"""
from __future__ import annotations

import re
import sys
from collections.abc import Sequence

from src.core.cli import OneLineArgumentParser, positive_int, run_cli
from src.core.config.errors import UserInputError

PROG = "python -m src.main.control"
NAME_PATTERN = re.compile(r"[A-Za-z0-9_\-]+(@(paper|replay))?")
COMMANDS = ("flatten", "stop", "resume")


def strategy_name(text: str) -> str:
    import argparse

    if not NAME_PATTERN.fullmatch(text) or len(text) > 128:
        raise argparse.ArgumentTypeError(f"expected a strategy name (letters, digits, _ and -, optionally "
                                         f"@paper or @replay), got {text!r}")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog=PROG, description="The kill switch: flatten, stop or resume a strategy.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)
    for name, text in (("flatten", "cancel, close everything and stay stopped until resume"),
                       ("stop", "reduce-only: only closing and hedging orders"),
                       ("resume", "end a flatten or a stop")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--strategy", required=True, type=strategy_name,
                             help="the strategy's state name: NAME, NAME@paper or NAME@replay")
        command.add_argument("--note", default="", help="why (kept with the command, at most 200 characters)")
    show = commands.add_parser("show", help="the newest commands written")
    show.add_argument("--strategy", type=strategy_name, default=None)
    show.add_argument("--limit", type=positive_int, default=20)
    args = parser.parse_args(argv)
    if len(getattr(args, "note", "")) > 200:
        raise UserInputError(f"--note: at most 200 characters, got {len(args.note)}")

    # The database layer is imported once the flags are known to be good.
    from datetime import datetime

    import peewee

    from src.core.database_factory import DatabaseUnavailableError, create_control_repository
    from src.core.logging_setup import configure_logging
    from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
    from src.strategy.infrastructure.persistence.database_connection import DatabaseConnectionError

    configure_logging("WARNING")
    repository = create_control_repository()
    try:
        if args.command == "show":
            for name, request in repository.history(args.strategy, args.limit):
                note = f"  {request.note}" if request.note else ""
                print(f"{request.request_id}  {request.requested_at:%Y-%m-%d %H:%M:%S}  {name}  "
                      f"{request.command.value}{note}")
            return 0
        request = repository.write(args.strategy, args.command, datetime.now(EXCHANGE_TIMEZONE), args.note)
        print(f"{args.command} written for {args.strategy} (command {request.request_id}, "
              f"{request.requested_at:%Y-%m-%d %H:%M:%S}) in {repository.describe()}; the running strategy "
              f"applies it within its poll interval")
        return 0
    except DatabaseConnectionError as error:
        raise DatabaseUnavailableError(str(error)) from None
    except peewee.DatabaseError as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseUnavailableError(f"cannot use {repository.describe()}: {detail}") from None
    finally:
        repository.close()


if __name__ == "__main__":
    run_cli(main, sys.argv[1:], prog=PROG)
