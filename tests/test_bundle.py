"""The PyInstaller one-folder bundle (issue 7): built by packaging/build.sh, moved elsewhere
(nothing may point back at the build folder), then started with an empty environment — no
venv, no PYTHONPATH, a fresh HOME — as a person's double-click would.

Slow (the build takes minutes on 2 cores); runs in CI. COMPANION_TEST_BUNDLE=PATH reuses a
bundle already built there instead of building one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    given = os.environ.get("COMPANION_TEST_BUNDLE")
    if given:
        return Path(given)
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run([str(ROOT / "packaging" / "build.sh")], cwd=ROOT,
                           env={**os.environ, "DIST": str(dist)}, capture_output=True, text=True,
                           timeout=3000)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    moved = tmp_path_factory.mktemp("copied") / "NOVA companion"  # a space in the path, too
    shutil.move(str(dist / "nova-companion"), str(moved))
    return moved


def clean_env(home: Path) -> dict:
    (home / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(home / "run")}


def exec_argv(value: str) -> list[str]:
    """An Exec value split as the Desktop Entry spec (and GLib) do: first the string escape
    (\\\\ is one backslash), then arguments; inside "..." a backslash escapes " ` $ \\.
    (shlex keeps the backslash of \\$, so it is not the same.)"""
    value = value.replace("\\\\", "\\")
    args, cur, quoted, started, i = [], "", False, False, 0
    while i < len(value):
        c = value[i]
        if quoted and c == "\\" and i + 1 < len(value) and value[i + 1] in '"`$\\':
            cur += value[i + 1]
            i += 2
            continue
        if c == '"':
            quoted, started = not quoted, True
        elif c == " " and not quoted:
            if cur or started:
                args.append(cur)
            cur, started = "", False
        else:
            cur += c
        i += 1
    if cur or started:
        args.append(cur)
    return args


def test_exec_argv_follows_the_desktop_entry_quoting():
    assert exec_argv(r'sh -c "d=\\$(dirname \\"\\$1\\"); shift" sh %k') == [
        "sh", "-c", 'd=$(dirname "$1"); shift', "sh", "%k"]
    assert exec_argv('sh -c "exec \\\\"\\\\$(dirname \\\\"\\\\$1\\\\")/app\\\\"" sh %k') == [
        "sh", "-c", 'exec "$(dirname "$1")/app"', "sh", "%k"]
    assert exec_argv('app "a b" c') == ["app", "a b", "c"]


def test_the_bundle_passes_its_self_test_in_an_empty_environment(bundle, tmp_path):
    out = subprocess.run([str(bundle / "nova-companion"), "--self-test"], env=clean_env(tmp_path),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads(out.stdout)
    parts = {p["name"]: p for p in report["parts"]}
    assert report["ok"] and report["failed"] == []
    assert set(parts) == {"model", "speech_recognition", "voice_sora", "voice_lumin", "voice_nova",
                          "store", "qt"}
    assert parts["model"]["details"]["reply"]
    assert parts["model"]["details"]["path"].startswith(str(bundle)), parts["model"]  # the bundled model
    assert parts["voice_lumin"]["details"]["wer"] <= 0.3
    # Whisper base was joined from the bundled halves into this fresh HOME's cache.
    assert any((tmp_path / ".cache").rglob("model.bin"))


def test_the_bundle_opens_its_window(bundle, tmp_path):
    shot = tmp_path / "window.png"
    out = subprocess.run([str(bundle / "nova-companion"), "gui", "--screenshot", str(shot),
                          "--quit-when-ready"], env=clean_env(tmp_path), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(next(ln for ln in out.stderr.splitlines() if ln.startswith("{")))
    assert info["saved"] and info["model_ok"]
    assert shot.stat().st_size > 20_000  # a rendered window, not an empty image


def test_the_folder_launcher_starts_the_bundle_next_to_it(bundle, tmp_path):
    launcher = bundle / "NOVA companion.desktop"
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(launcher)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    exec_line = next(ln for ln in launcher.read_text().splitlines() if ln.startswith("Exec="))[5:]
    # What a file manager runs: %k replaced by the launcher's own path.
    argv = [str(launcher) if arg == "%k" else arg for arg in exec_argv(exec_line)]
    out = subprocess.run([*argv, "--version"], env=clean_env(tmp_path), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("companion "), out.stdout + out.stderr
