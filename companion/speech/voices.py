"""Voice profiles: which engine, voice, language, pitch, speed and volume a persona speaks with.

The shipped profiles live in `voices/<name>.toml` at the repository root; a user file with the
same name in `<user config dir>/voices/` overrides single keys of it. A typo must not silently
give the wrong voice, so unknown keys and bad values are errors that name the file and key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from companion.errors import CompanionError

ENGINES = ("piper", "espeak", "coqui")
PROFILE_NAMES = ("sora", "lumin", "nova")
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "voices"
_RANGES = {"pitch": (0.5, 2.0), "speed": (0.25, 4.0), "volume": (0.0, 2.0)}


def user_voices_dir() -> Path:
    """Where user overrides live: <user config dir>/voices (COMPANION_CONFIG_DIR moves it)."""
    from companion.config import user_config_dir

    return user_config_dir() / "voices"


@dataclass(frozen=True)
class VoiceProfile:
    """How one persona sounds. pitch/speed/volume are factors: 1.0 is the voice's own."""

    name: str
    engine: str
    voice: str
    language: str
    pitch: float = 1.0
    speed: float = 1.0
    volume: float = 1.0
    variant: str = ""
    description: str = ""
    source: str = ""  # the file(s) it came from, for error messages

    @classmethod
    def load(cls, path: str | Path, name: str | None = None) -> VoiceProfile:
        """Load one complete profile file; `name` defaults to the file's stem."""
        path = Path(path)
        values = _read_toml(path)
        return cls._build(name or path.stem, values, {k: path for k in values}, str(path))

    @classmethod
    def named(cls, name: str, user_dir: Path | None = None,
              shipped_dir: Path = SHIPPED_DIR) -> VoiceProfile:
        """The shipped profile `name` with the user's overrides applied key by key."""
        key = name.strip().lower()
        shipped = shipped_dir / f"{key}.toml"
        if not shipped.is_file():
            known = ", ".join(sorted(p.stem for p in shipped_dir.glob("*.toml"))) or "none"
            raise CompanionError(f"unknown voice {name!r}: use one of {known}")
        values = _read_toml(shipped)
        origin = {k: shipped for k in values}
        override = (user_dir if user_dir is not None else user_voices_dir()) / f"{key}.toml"
        sources = [str(shipped)]
        if override.is_file():
            extra = _read_toml(override)
            # A relative voice path in the user's file means relative to that file.
            if "voice" in extra and isinstance(extra["voice"], str):
                extra["voice"] = _resolve_voice_path(extra["voice"], override.parent)
            values.update(extra)
            origin.update({k: override for k in extra})
            sources.append(str(override))
        return cls._build(key, values, origin, " + ".join(sources))

    @classmethod
    def _build(cls, name: str, values: dict, origin: dict, source: str) -> VoiceProfile:
        allowed = {f.name for f in fields(cls)} - {"name", "source"}
        for key in values:
            if key not in allowed:
                raise CompanionError(
                    f"{origin[key]}: unknown key {key!r}; allowed keys: {', '.join(sorted(allowed))}")
        for key in ("engine", "voice", "language"):
            if key not in values:
                raise CompanionError(f"{source}: missing key {key!r}")

        def bad(key: str, why: str) -> CompanionError:
            return CompanionError(f"{origin[key]}: key {key!r} {why} (got {values[key]!r})")

        for key in ("engine", "voice", "language", "variant", "description"):
            if key in values and not isinstance(values[key], str):
                raise bad(key, "must be a string")
        if values["engine"] not in ENGINES:
            raise bad("engine", f"must be one of {', '.join(ENGINES)}")
        if not values["voice"].strip():
            raise bad("voice", "must not be empty")
        if values["language"] not in ("ro", "en"):
            raise bad("language", "must be 'ro' or 'en'")
        for key, (lo, hi) in _RANGES.items():
            if key in values:
                v = values[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise bad(key, "must be a number")
                if not lo <= float(v) <= hi:
                    raise bad(key, f"must be between {lo} and {hi}")
                values[key] = float(v)
        return cls(name=name, source=source, **values)

    def with_overrides(self, **changes) -> VoiceProfile:
        """A copy with some fields changed (e.g. a per-session speed), validated again."""
        values = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name not in ("name", "source")}
        values.update(changes)
        return type(self)._build(self.name, values, {k: "<override>" for k in values}, self.source)


EDITABLE = ("engine", "voice", "variant", "pitch", "speed", "volume")


def check_override(name: str, values: dict) -> VoiceProfile:
    """The shipped profile `name`, after checking that `values` would be a valid override of it.

    Raises a CompanionError naming the voice and the key (nothing is written).
    """
    key = name.strip().lower()
    shipped = VoiceProfile.named(key, user_dir=Path("/nonexistent"))
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise CompanionError(f"voice {key}: cannot set {', '.join(unknown)}; editable: {', '.join(EDITABLE)}")
    try:
        shipped.with_overrides(**values)
    except CompanionError as exc:
        raise CompanionError(f"{key} voice: " + str(exc).removeprefix("<override>: ")) from None
    return shipped


def save_override(name: str, values: dict, user_dir: Path | None = None) -> Path:
    """Write the user's override for profile `name` (only EDITABLE keys), validated first.

    Keys equal to the shipped profile's are left out, so a later change of the shipped
    default still reaches the user. Returns the file written (or removed when empty).
    """
    import json

    key = name.strip().lower()
    folder = user_dir if user_dir is not None else user_voices_dir()
    shipped = check_override(key, values)
    changed = {k: v for k, v in values.items() if getattr(shipped, k) != v}
    path = folder / f"{key}.toml"
    if not changed:
        path.unlink(missing_ok=True)
        return path

    def toml_value(v):
        return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else repr(float(v))

    text = (f"# Your {key} voice (written by the settings dialog); keys here override "
            f"{shipped.source}.\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in changed.items()))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise CompanionError(f"cannot save the voice to {path} ({exc.strerror}): free some disk "
                             f"space or check the folder's permissions") from None
    return path


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise CompanionError(f"voice profile {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CompanionError(f"{path}: not valid TOML ({exc}); fix the file or delete it") from None


def _resolve_voice_path(voice: str, base: Path) -> str:
    if "/" in voice or voice.endswith(".onnx") or voice.startswith("~"):
        p = Path(voice).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())
    return voice


__all__ = ["VoiceProfile", "PROFILE_NAMES", "ENGINES", "EDITABLE", "check_override", "save_override", "user_voices_dir"]
