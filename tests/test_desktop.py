"""`companion install-desktop`: a real launcher and icons in a temporary XDG data home."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "companion"]


def run(*args, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_DATA_HOME": str(home)}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_install_writes_a_valid_launcher_that_starts_this_installation(tmp_path):
    import json

    out = run("install-desktop", "--json", home=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    launcher = tmp_path / "applications" / "nova-companion.desktop"
    assert Path(report["launcher"]) == launcher and launcher.is_file()
    text = launcher.read_text(encoding="utf-8")
    assert "Icon=nova-companion" in text and "Terminal=false" in text
    exec_line = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("Exec="))
    command = shlex.split(exec_line)
    assert Path(command[0]).is_file() and os.access(command[0], os.X_OK)
    # The launcher's command really is this installation's app (its GUI entry point).
    started = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0 and "--screenshot" in started.stdout
    for size in (16, 32, 48, 64, 128, 256, 512):
        icon = tmp_path / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "nova-companion.png"
        assert icon.is_file() and icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "nova-companion.svg").is_file()
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.fail("desktop-file-validate is missing: apt-get install desktop-file-utils (setup.sh --dev does)")
    checked = subprocess.run([validator, str(launcher)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    again = run("install-desktop", home=tmp_path)  # installing twice is fine
    assert again.returncode == 0 and "installed" in again.stdout

    gone = run("install-desktop", "--uninstall", "--json", home=tmp_path)
    assert gone.returncode == 0
    assert len(json.loads(gone.stdout)["removed"]) == 10  # the launcher, 8 PNG sizes and the SVG
    assert not launcher.exists() and not list((tmp_path / "icons").rglob("nova-companion.*"))
    nothing = run("install-desktop", "--uninstall", home=tmp_path)
    assert nothing.returncode == 0 and "not installed" in nothing.stdout


def test_an_unwritable_data_home_is_a_clear_error(tmp_path):
    home = tmp_path / "readonly"
    home.mkdir()
    (home / "applications").write_text("a file where a folder should be")
    out = run("install-desktop", home=home)
    assert out.returncode == 2
    assert "cannot install the launcher" in out.stderr and "Traceback" not in out.stderr
