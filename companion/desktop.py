"""Put the app in the desktop menu for the current user (XDG), or take it out again.

The launcher goes to $XDG_DATA_HOME/applications (default ~/.local/share), the icons to
$XDG_DATA_HOME/icons/hicolor/<N>x<N>/apps and .../scalable/apps. Exec points at the
`companion-gui` script of the environment that runs this (a venv or a PyInstaller bundle),
so a double-click starts exactly this installation. The menu caches are refreshed when
Debian's desktop-file-utils / gtk-update-icon-cache are present; desktops also notice the
files on their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from companion.errors import CompanionError

APP_ID = "nova-companion"
ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "packaging" / "linux" / f"{APP_ID}.desktop"
ICONS = ROOT / "assets" / "icons"
SVG = ROOT / "assets" / "icon.svg"


@dataclass
class DesktopInstall:
    launcher: Path
    icons: list[Path] = field(default_factory=list)
    exec_line: str = ""

    def to_dict(self) -> dict:
        return {"launcher": str(self.launcher), "icons": [str(p) for p in self.icons],
                "exec": self.exec_line}


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launcher_command() -> list[str]:
    """The command a double-click runs: the bundle's executable, or this venv's companion-gui."""
    if getattr(sys, "frozen", False):  # PyInstaller: the executable is the app
        return [str(Path(sys.executable).resolve())]
    script = Path(sys.executable).parent / "companion-gui"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "companion", "gui"]


def install(target: Path | None = None) -> DesktopInstall:
    """Write the launcher and icons; returns what was written."""
    home = target or data_home()
    try:
        template = TEMPLATE.read_text(encoding="utf-8")
    except OSError as exc:
        raise CompanionError(f"the launcher template {TEMPLATE} is missing ({exc.strerror}): "
                             "reinstall the app") from None
    exec_line = " ".join(_desktop_quote(a) for a in launcher_command())
    result = DesktopInstall(home / "applications" / f"{APP_ID}.desktop", exec_line=exec_line)
    try:
        for png in sorted(ICONS.glob(f"{APP_ID}-*.png")):
            size = png.stem.rsplit("-", 1)[1]
            dest = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, dest)
            result.icons.append(dest)
        if SVG.is_file():
            dest = home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SVG, dest)
            result.icons.append(dest)
        result.launcher.parent.mkdir(parents=True, exist_ok=True)
        tmp = result.launcher.with_suffix(".partial")
        tmp.write_text(template.replace("@EXEC@", exec_line), encoding="utf-8")
        tmp.chmod(0o755)  # some desktops only start "trusted" (executable) launchers
        os.replace(tmp, result.launcher)
    except OSError as exc:
        raise CompanionError(f"cannot install the launcher under {home} ({exc.strerror}): "
                             "check the folder's permissions and free space") from None
    if not result.icons:
        raise CompanionError(f"no icons found in {ICONS}: reinstall the app")
    _refresh(home)
    return result


def uninstall(target: Path | None = None) -> list[Path]:
    """Remove what install() wrote; returns the files removed."""
    home = target or data_home()
    removed = []
    candidates = [home / "applications" / f"{APP_ID}.desktop",
                  *(home / "icons" / "hicolor").glob(f"*/apps/{APP_ID}.*")]
    for path in candidates:
        if path.is_file():
            path.unlink()
            removed.append(path)
    _refresh(home)
    return removed


def _desktop_quote(arg: str) -> str:
    """Quote one Exec argument per the Desktop Entry spec (spaces and reserved characters)."""
    if not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`%'):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'.replace("%", "%%")


def _refresh(home: Path) -> None:
    for cmd in (["update-desktop-database", "-q", str(home / "applications")],
                ["gtk-update-icon-cache", "-q", "-t", "-f", str(home / "icons" / "hicolor")]):
        if shutil.which(cmd[0]) and Path(cmd[-1]).is_dir():
            subprocess.run(cmd, check=False, capture_output=True, timeout=30)


__all__ = ["install", "uninstall", "launcher_command", "DesktopInstall"]
