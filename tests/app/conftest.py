"""Qt under the offscreen platform: real widgets, no display needed."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import

import pytest  # noqa: E402

pytest.importorskip("PySide6.QtWidgets", reason="the app extra (PySide6-Essentials) is not installed")

from PySide6.QtTest import QTest  # noqa: E402

from app_helpers import ARTIFACTS, write_settings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


@pytest.fixture(scope="session")
def qapp():
    app = QApplication.instance() or QApplication(["companion-tests"])
    yield app


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def open_window(qapp, tmp_path):
    """open_window(model_dir, **settings) → a shown MainWindow on a fresh SQLite file."""
    from companion.app.window import MainWindow

    windows = []

    def make(model_dir, settings_path=None, db=None, **settings):
        if settings_path is None:
            settings_path = write_settings(tmp_path / "settings.json", **settings)
        window = MainWindow(settings_path, model_dir, db or tmp_path / "conversations.sqlite3")
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        window.deleteLater()
    QTest.qWait(20)
