"""The Qt part of `companion --self-test` (Qt is imported only under companion/app)."""

from __future__ import annotations

import os


def render_check() -> dict:
    """Open the Qt platform (offscreen unless one is set) and render a widget."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(["companion-self-test"])
    label = QLabel("NOVA companion")
    label.resize(200, 40)
    if label.grab().isNull():
        raise RuntimeError("Qt could not render a widget")
    return {"platform": app.platformName()}
