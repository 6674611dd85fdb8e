"""Start the desktop app; with a screenshot path, save the window once the model is ready."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def run(model: Path | None = None, db: Path | None = None, settings: Path | None = None,
        screenshot: Path | None = None, quit_when_ready: bool = False) -> int:
    """The Qt event loop with the main window. Returns the exit code."""
    started = time.perf_counter()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from companion.app import theme
    from companion.app.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("NOVA companion")
    app.setDesktopFileName("nova-companion")
    app.setWindowIcon(theme.app_icon())
    window = MainWindow(settings, model, db)
    window.show()
    app.processEvents()
    shown_ms = (time.perf_counter() - started) * 1000
    shown_unix = time.time()  # benchmarks measure process start → window from outside
    outcome = {}

    def when_ready(ok: bool) -> None:
        outcome["ok"] = ok
        ready_ms = (time.perf_counter() - started) * 1000
        ready_unix = time.time()
        if screenshot is not None:
            def save():
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                saved = window.grab().save(str(screenshot), "PNG")
                print(json.dumps({"screenshot": str(screenshot), "saved": saved, "model_ok": ok,
                                  "window_shown_ms": round(shown_ms, 1), "ready_ms": round(ready_ms, 1),
                                  "window_shown_unix": round(shown_unix, 3), "ready_unix": round(ready_unix, 3),
                                  "model_load_ms": window.load_info.get("load_ms")}), file=sys.stderr)
                if quit_when_ready:
                    app.exit(0 if saved and ok else 1)
            QTimer.singleShot(150, save)  # let the layout settle after the banner goes away
        elif quit_when_ready:
            app.exit(0 if ok else 1)

    window.model_ready.connect(when_ready)
    code = app.exec()
    window.shutdown()
    return code
