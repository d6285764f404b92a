"""``python -m src.main.state``: look at the strategy state snapshots in the configured database.

  show --strategy NAME
      Prints the newest snapshot that verifies (checksum and JSON) as JSON:
      strategy_name, snapshot_id, schema_version, saved_at, checksum, size_bytes.
      Corrupt newer snapshots it skips are reported on stderr. Exit 2 when the
      strategy has no good snapshot.

  verify
      Checks every snapshot of every strategy and lists the bad ones, one per
      line. Exit 3 when any is bad, 0 otherwise.

Exit codes: 0 done, 2 bad input (flags, no good snapshot, a database that cannot be
opened or is not a database), 3 ``verify`` found bad snapshots.

The database is the one of ``VNPY_DATABASE_*`` (``.env``): SQLite under data/ by
default, MySQL when ``VNPY_DATABASE_DRIVER=mysql``.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from typing import TYPE_CHECKING

from src.core.cli import OneLineArgumentParser, run_cli
from src.core.config.errors import UserInputError

if TYPE_CHECKING:
    from src.strategy.infrastructure.persistence.state_repository import StateRepository

PROG = "python -m src.main.state"
EXIT_BAD_SNAPSHOTS = 3  # not 1, which is what any unexpected error exits with


class NoGoodSnapshotError(UserInputError):
    """The strategy asked for has no snapshot that verifies."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog=PROG, description="Inspect and verify saved strategy state.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)
    show = commands.add_parser("show", help="metadata of a strategy's newest good snapshot, as JSON")
    show.add_argument("--strategy", required=True, help="the strategy name the state was saved under")
    commands.add_parser("verify", help=f"check every snapshot; exit {EXIT_BAD_SNAPSHOTS} when any is bad")
    args = parser.parse_args(argv)

    # The database layer is imported once the flags are known to be good.
    import peewee

    from src.core.database_factory import DatabaseUnavailableError, create_state_repository
    from src.core.logging_setup import configure_logging
    from src.strategy.infrastructure.persistence.database_connection import DatabaseConnectionError

    configure_logging("WARNING")
    repository = create_state_repository()
    try:
        if args.command == "show":
            return show_snapshot(repository, args.strategy)
        return verify_snapshots(repository)
    except DatabaseConnectionError as error:
        raise DatabaseUnavailableError(str(error)) from None
    except peewee.DatabaseError as error:  # a damaged file: "database disk image is malformed", ...
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseUnavailableError(f"cannot read {repository.describe()}: {detail}") from None
    finally:
        repository.close()


def show_snapshot(repository: StateRepository, strategy_name: str) -> int:
    from src.strategy.infrastructure.persistence.state_repository import validate_strategy_name

    try:
        validate_strategy_name(strategy_name)
    except ValueError as error:
        raise UserInputError(f"--strategy: {error}") from None
    info = repository.newest_good_snapshot(strategy_name)
    if info is None:
        stored = len(repository.snapshots(strategy_name))
        detail = f"{stored} stored, none verifies" if stored else "none stored"
        raise NoGoodSnapshotError(f"no good state snapshot of strategy {strategy_name!r} in "
                                  f"{repository.describe()} ({detail}); {stored_names(repository, strategy_name)}")
    print(json.dumps(info.as_dict(), ensure_ascii=False))
    return 0


def stored_names(repository: StateRepository, asked: str) -> str:
    """What is stored instead: paper and replay runs save under ``<name>@paper`` and ``<name>@replay``."""
    names = [name for name in repository.strategy_names() if name != asked]
    if not names:
        return "no strategy has saved state there"
    suggestions = [name for name in names if name.split("@", 1)[0] == asked.split("@", 1)[0]]
    hint = f"; did you mean {' or '.join(repr(name) for name in suggestions)}?" if suggestions else ""
    return f"stored strategies: {', '.join(sorted(names))}{hint}"


def verify_snapshots(repository: StateRepository) -> int:
    names = repository.strategy_names()
    checked = repository.count_snapshots()
    bad = repository.verify()
    for snapshot in bad:
        print(f"BAD {snapshot.describe()}")
    print(f"checked {checked} snapshots of {len(names)} strategies in {repository.describe()}: {len(bad)} bad")
    return EXIT_BAD_SNAPSHOTS if bad else 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:], prog=PROG)
