"""Helpers for the app tests (import as `app_helpers`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    """Run the event loop until predicate() is true (the worker answers through it).

    A QEventLoop, not a QTest.qWait() loop: qWait sleeps holding the GIL, which starves the
    worker thread (turns ran 10-15x slower than in the app's own event loop).
    """
    if predicate():
        return
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(10)

    def check():
        if predicate() or time.monotonic() > deadline:
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    if not predicate():
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def write_settings(path: Path, **values) -> Path:
    path.write_text(json.dumps(values), encoding="utf-8")
    return path
