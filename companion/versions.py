"""Model versions in the user data dir: <data>/models/<version>/ plus a CURRENT pointer.

Publishing is atomic: a candidate is written under .staging-*, verified, renamed into
place, and only then does CURRENT (replaced with os.replace) point at it. A running app
that reads CURRENT therefore never sees a half-written version. Without CURRENT the bundled
default model (models/default in the source tree or the bundle) is used.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from companion.errors import CompanionError

CURRENT = "CURRENT"
STAGING_PREFIX = ".staging-"


def default_models_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("nova-companion", appauthor=False)) / "models"


def bundled_model_dir() -> Path:
    """models/default beside the package (source tree or PyInstaller bundle)."""
    return Path(__file__).resolve().parent.parent / "models" / "default"


@dataclass(frozen=True)
class Version:
    name: str
    path: Path
    current: bool = False


class ModelVersions:
    def __init__(self, root: str | Path | None = None, fallback: str | Path | None = None):
        self.root = Path(root) if root is not None else default_models_dir()
        self.fallback = Path(fallback) if fallback is not None else bundled_model_dir()

    def list(self) -> list[Version]:
        """Published versions, oldest first."""
        if not self.root.is_dir():
            return []
        current = self.current_name()
        names = sorted(p.name for p in self.root.iterdir()
                       if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file())
        return [Version(n, self.root / n, n == current) for n in names]

    def current_name(self) -> str | None:
        try:
            name = (self.root / CURRENT).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return name or None

    def current_path(self) -> Path:
        """The folder to load: the CURRENT version, else the bundled default."""
        name = self.current_name()
        if name is not None:
            path = self.root / name
            if not path.is_dir():
                raise CompanionError(f"{self.root / CURRENT} names version {name!r}, which is not in {self.root}; "
                                     "run `companion models list` and `companion models use VERSION`")
            return path
        return self.fallback

    def use(self, name: str) -> Version:
        """Point CURRENT at a published version (atomically)."""
        path = self.root / name
        if name.startswith(".") or not (path / "manifest.json").is_file():
            names = ", ".join(v.name for v in self.list()) or "none"
            raise CompanionError(f"no published model version {name!r} in {self.root} (available: {names})")
        tmp = self.root / f"{CURRENT}.partial"
        tmp.write_text(name + "\n", encoding="utf-8")
        os.replace(tmp, self.root / CURRENT)
        return Version(name, path, True)

    def rollback(self) -> Version:
        """Use the version published before the current one."""
        versions = self.list()
        current = self.current_name()
        names = [v.name for v in versions]
        if current not in names or names.index(current) == 0:
            raise CompanionError("nothing to roll back to: the current model is the oldest published version"
                                 if current in names else "no published version is in use")
        return self.use(names[names.index(current) - 1])

    def staging_dir(self) -> Path:
        """A fresh folder to write a candidate into (never picked up before publish())."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{STAGING_PREFIX}{os.getpid()}-{time.time_ns()}"
        path.mkdir()
        return path

    def publish(self, staged: str | Path, verify=None) -> Version:
        """Move a staged candidate into place as a new version and make it current."""
        staged = Path(staged)
        if verify is not None:
            verify(staged)
        name = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        n = 1
        while (self.root / name).exists():
            name = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{n}"
            n += 1
        os.replace(staged, self.root / name)
        return self.use(name)

    def discard(self, staged: str | Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)
