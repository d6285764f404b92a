"""One daemon per config/timeframe/*.yaml, waited for: what scripts/lib/daemons.sh does, for Windows.

  python scripts/lib/run_daemons.py [--paper] [--timeframes DIR] [-- flags for every daemon...]

Starts ``src/main/main.py --mode daemon --override-config <file> [--paper] <flags>`` for each
timeframe file, waits until all have exited and exits with the first non-zero exit code among
them (0 when all stopped cleanly or finished; 2 when there is no timeframe file).

Ctrl+C in the console reaches every daemon (they share the console), and each stops its child
cleanly; this program keeps waiting for them. SIGTERM (and Ctrl+Break) sent to this program
alone is passed on to every daemon. Used by scripts/lib/daemons.bat; the bash twin keeps its
own loop.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAIN = PROJECT_ROOT / "src" / "main" / "main.py"
EXIT_NO_TIMEFRAME = 2
WAIT_POLL_SECONDS = 0.5


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in arguments:
        cut = arguments.index("--")
        arguments, extra = arguments[:cut], arguments[cut + 1:]
    parser = argparse.ArgumentParser(prog="run_daemons.py")
    parser.add_argument("--paper", action="store_true")
    parser.add_argument("--timeframes", type=Path, default=PROJECT_ROOT / "config" / "timeframe")
    args = parser.parse_args(arguments)

    files = sorted(args.timeframes.glob("*.yaml"))
    if not files:
        print(f"error: no {args.timeframes}/*.yaml: add one file per timeframe (see config/timeframe/15m.yaml)",
              file=sys.stderr)
        return EXIT_NO_TIMEFRAME
    daemons: list[subprocess.Popen] = []
    for file in files:
        print(f"starting the daemon for {file.name}", flush=True)
        command = [sys.executable, str(MAIN), "--mode", "daemon", "--override-config", str(file),
                   *(["--paper"] if args.paper else []), *extra]
        daemons.append(subprocess.Popen(command, cwd=PROJECT_ROOT))

    def pass_on(signum, _frame) -> None:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.terminate()  # SIGTERM; TerminateProcess on Windows, where the console's Ctrl+C comes first

    for name in ("SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), pass_on)
    return wait_all(daemons)


def wait_all(daemons: list[subprocess.Popen]) -> int:
    """Every daemon's exit, Ctrl+C or not; the first non-zero code in start order."""
    for daemon in daemons:
        while True:
            try:
                daemon.wait(WAIT_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                continue
            except KeyboardInterrupt:
                # The daemons got the same Ctrl+C and are stopping their children: keep waiting.
                if os.name != "nt":
                    for other in daemons:
                        if other.poll() is None:
                            other.send_signal(signal.SIGINT)
                continue
    return next((daemon.returncode for daemon in daemons if daemon.returncode != 0), 0)


if __name__ == "__main__":
    sys.exit(main())
