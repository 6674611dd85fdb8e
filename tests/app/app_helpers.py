"""Helpers for the app tests (import as `app_helpers`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"  # screenshots, failed captures


class StallMeter:
    """How long the GUI thread was kept from its event loop: the gaps between ticks of a short
    QTimer (shared by the window tests and benchmarks/bench_app.py)."""

    def __init__(self, interval_ms: int = 5):
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self.restart()
        self.timer.start()

    def restart(self) -> None:
        """Forget the gaps so far: measure from now."""
        self.gaps.clear()
        self._last = time.perf_counter()

    def stop(self) -> None:
        self.timer.stop()

    @property
    def worst_ms(self) -> float | None:
        return max(self.gaps) * 1000 if self.gaps else None


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
