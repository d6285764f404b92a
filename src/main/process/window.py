"""vnpy's main window, for a standalone strategy process started without ``--no-ui`` on a machine with a display.

The daemon's children never have one. Closing the window means "stop": the
process then stops its strategies and engines itself, in the same order as on
SIGTERM (vnpy's own window would close the engines from the UI thread while the
strategies still run).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable

from src.main.bootstrap.engine_factory import Engines

POLL_MILLISECONDS = 200


def display_available() -> bool:
    """Windows and macOS always have one; elsewhere X11/Wayland, or a Qt platform chosen explicitly."""
    if os.name == "nt" or sys.platform == "darwin":
        return True
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def run_window(engines: Engines, should_leave: Callable[[], bool], on_close: Callable[[], None]) -> None:
    """Show vnpy's main window until ``should_leave()`` is true or the window is closed."""
    from vnpy.trader.ui import MainWindow, QtCore, create_qapp

    class StrategyWindow(MainWindow):
        def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
            on_close()
            event.accept()

    qapp = create_qapp("vol-strategy-framework")
    window = StrategyWindow(engines.main_engine, engines.event_engine)
    window.showMaximized()
    timer = QtCore.QTimer()
    timer.timeout.connect(lambda: qapp.quit() if should_leave() else None)
    timer.start(POLL_MILLISECONDS)
    qapp.exec()
    timer.stop()
    window.hide()
