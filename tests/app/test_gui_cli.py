"""`companion gui --screenshot PATH --quit-when-ready`, as a user (or a reviewer) runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from PySide6.QtGui import QImage

from app_helpers import write_settings


def run_gui(*args, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "companion", "gui", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def timings(stderr: str) -> dict:
    line = next(line for line in stderr.splitlines() if line.startswith("{"))
    return json.loads(line)


def test_gui_screenshot_after_the_model_loads(memorised_model_dir, tmp_path, artifacts):
    shot = artifacts / "app_main.png"
    shot.unlink(missing_ok=True)
    settings = write_settings(tmp_path / "settings.json", temperature=0)
    cli = run_gui("--model", str(memorised_model_dir), "--db", str(tmp_path / "c.sqlite3"),
                  "--settings", str(settings), "--screenshot", str(shot), "--quit-when-ready",
                  tmp_path=tmp_path)
    assert cli.returncode == 0, cli.stderr
    facts = timings(cli.stderr)
    print(f"\ncompanion gui: window shown {facts['window_shown_ms']:.0f} ms after start of run(), "
          f"model ready {facts['ready_ms']:.0f} ms, model load {facts['model_load_ms']:.0f} ms")
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1040, 720)
    assert (tmp_path / "c.sqlite3").exists()


def test_gui_with_a_missing_model_says_so_and_exits_1(tmp_path, artifacts):
    shot = tmp_path / "missing.png"
    cli = run_gui("--model", str(tmp_path / "no-model"), "--db", str(tmp_path / "c.sqlite3"),
                  "--settings", str(tmp_path / "settings.json"), "--screenshot", str(shot),
                  "--quit-when-ready", tmp_path=tmp_path)
    assert cli.returncode == 1
    assert timings(cli.stderr)["model_ok"] is False
    assert "Traceback" not in cli.stderr
    assert shot.exists()  # the window rendered, with its error banner
