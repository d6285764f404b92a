"""A process whose state changed since its last save, waiting to be stopped by a signal.

Run as ``python -m tests.e2e.fault_children.auto_save_child STRATEGY`` with ``VNPY_DATABASE_*``
set. Only the save that AutoSaveService's signal handler makes can store ``counter`` 42;
the regular interval (an hour) never comes. Prints ``ready``, then loops; on SIGINT the
KeyboardInterrupt the default handler raises ends it with ``interrupted`` and exit code 130.
"""
from __future__ import annotations

import sys
import time

from src.core.database_factory import create_state_repository
from src.strategy.infrastructure.persistence.auto_save_service import AutoSaveService


def main() -> None:
    state = {"counter": 0}
    service = AutoSaveService(create_state_repository(), sys.argv[1], lambda: dict(state), interval_seconds=3600)
    service.install_signal_handlers()
    state["counter"] = 42
    try:  # "ready" inside the try: a SIGINT right after it must still end in "interrupted"
        print("ready", flush=True)
        while True:
            service.tick()
            time.sleep(0.02)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
