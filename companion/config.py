"""User settings (persona, style, generation, folders): a frozen dataclass saved as JSON.

The file lives in the user config dir (platformdirs), `settings.json`. Qt-free on purpose: the
desktop app, the CLI and the tests share it. Unknown keys in the file are ignored (a newer
version may have written them); a value that fails validation is a CompanionError that names
the setting and the allowed range, so the settings dialog can show it as is.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from companion.errors import CompanionError

SETTINGS_FILENAME = "settings.json"
PERSONA_MODES = ("auto", "nova", "sora", "lumin")
STYLE_CHOICES = ("technical", "casual", "formal")
STT_LANGUAGES = ("auto", "ro", "en")
STT_MODELS = ("base", "tiny.en")  # shipped by pip packages; any faster-whisper folder works too


def user_config_dir() -> Path:
    """<user config dir>/nova-companion; COMPANION_CONFIG_DIR moves it (tests, portable installs)."""
    base = os.environ.get("COMPANION_CONFIG_DIR")
    if base:
        return Path(base)
    import platformdirs

    return Path(platformdirs.user_config_dir("nova-companion", appauthor=False))


def default_settings_path() -> Path:
    """<user config dir>/settings.json"""
    return user_config_dir() / SETTINGS_FILENAME


@dataclass(frozen=True)
class AppSettings:
    """What the user chooses in the settings dialog. Empty folders mean "the default place"."""

    persona_mode: str = "auto"  # auto (α decides) | nova | sora | lumin (locked)
    style: str = "casual"
    temperature: float = 0.8
    top_k: int = 40  # 0 = no limit
    top_p: float = 0.95
    max_tokens: int = 200
    seed: int | None = None
    word_guard: bool = True  # only words the model was trained on or the conversation used
    question_weight: float = 2.0  # context-aware decoding (companion.generation.SamplingConfig)
    copy_weight: float = 0.85  # copying from the model's knowledge (the same)
    admit_unknown: bool = True  # nothing near in the knowledge: say so (companion/memory/unsure.py)
    model_dir: str = ""  # "" = the current published version, else the bundled default
    data_dir: str = ""  # "" = the user data dir (conversations.sqlite3 lives there)
    # speech
    speak_replies: bool = True
    input_device: str = ""  # "" = the system's default microphone; else (part of) its name
    output_device: str = ""  # "" = the system's default speaker
    stt_model: str = "base"  # base | tiny.en | a faster-whisper model folder
    stt_language: str = "auto"  # auto | ro | en (a persona lock forces its own language)
    ptt_key: str = "Space"  # a Qt key name; held while the text box is not focused

    def __post_init__(self):
        problems = self.problems()
        if problems:
            raise CompanionError("invalid settings: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Every invalid value, each as a sentence that says what is allowed."""
        out = []
        if self.persona_mode not in PERSONA_MODES:
            out.append(f"persona must be one of {', '.join(PERSONA_MODES)}, not {self.persona_mode!r}")
        if self.style not in STYLE_CHOICES:
            out.append(f"style must be one of {', '.join(STYLE_CHOICES)}, not {self.style!r}")
        if not _number(self.temperature) or not 0 <= self.temperature <= 2:
            out.append(f"temperature must be between 0 and 2 (0 = always the most likely word), not {self.temperature!r}")
        if not _whole(self.top_k) or not 0 <= self.top_k <= 1000:
            out.append(f"top-k must be a whole number from 0 (no limit) to 1000, not {self.top_k!r}")
        if not _number(self.top_p) or not 0 < self.top_p <= 1:
            out.append(f"top-p must be above 0 and at most 1, not {self.top_p!r}")
        if not _whole(self.max_tokens) or not 1 <= self.max_tokens <= 4096:
            out.append(f"max tokens must be a whole number from 1 to 4096, not {self.max_tokens!r}")
        if self.seed is not None and not _whole(self.seed):
            out.append(f"seed must be a whole number or empty, not {self.seed!r}")
        if not _number(self.question_weight) or not 0 <= self.question_weight <= 5:
            out.append(f"question focus must be between 0 (off) and 5, not {self.question_weight!r}")
        if not _number(self.copy_weight) or not 0 <= self.copy_weight <= 0.95:
            out.append(f"knowledge copying must be between 0 (off) and 0.95, not {self.copy_weight!r}")
        if not isinstance(self.word_guard, bool):
            out.append(f"only known words must be true or false, not {self.word_guard!r}")
        if not isinstance(self.admit_unknown, bool):
            out.append(f"say when it does not know must be true or false, not {self.admit_unknown!r}")
        if not isinstance(self.speak_replies, bool):
            out.append(f"speak replies must be true or false, not {self.speak_replies!r}")
        for name in ("input_device", "output_device", "stt_model", "ptt_key"):
            if not isinstance(getattr(self, name), str):
                out.append(f"{name.replace('_', ' ')} must be text, not {getattr(self, name)!r}")
        if isinstance(self.stt_model, str) and self.stt_model not in STT_MODELS and not (
                self.stt_model and Path(self.stt_model).expanduser().is_dir()):
            out.append(f"speech recognition model must be {' or '.join(STT_MODELS)} or an existing "
                       f"faster-whisper model folder, not {self.stt_model!r}")
        if self.stt_language not in STT_LANGUAGES:
            out.append(f"speech language must be one of {', '.join(STT_LANGUAGES)}, not {self.stt_language!r}")
        if isinstance(self.ptt_key, str) and not self.ptt_key.strip():
            out.append("the push-to-talk key must not be empty (Space is the default)")
        for name in ("model_dir", "data_dir"):
            value = getattr(self, name)
            if not isinstance(value, str):
                out.append(f"{name.replace('_', ' ')} must be a folder path, not {value!r}")
        if isinstance(self.model_dir, str) and self.model_dir and not Path(self.model_dir).expanduser().is_dir():
            out.append(f"model folder {self.model_dir} does not exist: pick a folder written by "
                       f"`companion train`, or leave it empty for the default model")
        return out

    def with_(self, **changes) -> AppSettings:
        return replace(self, **changes)

    # -- what the rest of the app needs -------------------------------------------------------

    @property
    def persona_lock(self):
        from companion.tribes import Tribe

        return None if self.persona_mode == "auto" else Tribe(self.persona_mode)

    def companion_config(self):
        """The CompanionConfig these settings ask for (style, persona lock, sampling)."""
        from companion.companion import CompanionConfig
        from companion.generation import SamplingConfig
        from companion.memory.context import ContextConfig

        sampling = SamplingConfig(temperature=float(self.temperature), top_k=self.top_k or None,
                                  top_p=float(self.top_p), max_tokens=self.max_tokens, seed=self.seed,
                                  word_guard=self.word_guard, question_weight=float(self.question_weight),
                                  copy_weight=float(self.copy_weight))
        return CompanionConfig(style=self.style, persona_lock=self.persona_lock, sampling=sampling,
                               context=ContextConfig(admit_unknown=self.admit_unknown))

    def stt_config(self):
        """The SttConfig these settings ask for (model, language)."""
        from companion.speech.stt import SttConfig

        return SttConfig(model=self.stt_model, language=self.stt_language)

    def db_path(self) -> Path:
        from companion.memory.store import DB_FILENAME, default_db_path

        return Path(self.data_dir).expanduser() / DB_FILENAME if self.data_dir else default_db_path()

    # -- file ---------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, values: dict) -> AppSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def load(cls, path: str | Path | None = None) -> AppSettings:
        """The saved settings; defaults when there is no file yet. A file that cannot be read,
        is not a JSON object or holds an invalid value is a CompanionError naming the file."""
        path = Path(path) if path is not None else default_settings_path()
        values = _read_values(path)
        try:
            return cls.from_dict(values)
        except CompanionError as exc:
            raise CompanionError(f"the settings file {path} has {exc}: fix it, or delete it to "
                                 f"start from the defaults") from None

    @classmethod
    def load_keeping_valid(cls, path: str | Path | None = None) -> tuple[AppSettings, str | None]:
        """What the app starts with: the saved settings, where each invalid value (a model folder
        deleted since, a hand-edited typo) falls back to its default and every other choice is
        kept; with a sentence naming what was dropped, or None when the file was fine. A file
        that cannot be read at all gives the defaults and says why."""
        path = Path(path) if path is not None else default_settings_path()
        try:
            values = _read_values(path)
        except CompanionError as exc:
            return cls(), f"{exc} — using the defaults"
        try:
            return cls.from_dict(values), None
        except CompanionError:
            pass
        kept, dropped = cls(), []
        known = {f.name for f in fields(cls)}
        for name, value in values.items():
            if name not in known:
                continue
            try:
                kept = kept.with_(**{name: value})
            except CompanionError as exc:
                dropped.append(str(exc).removeprefix("invalid settings: "))
        return kept, (f"the settings file {path} had invalid values, back to their defaults: "
                      + "; ".join(dropped))

    def save(self, path: str | Path | None = None) -> Path:
        """Write atomically (a crash mid-write keeps the old file)."""
        path = Path(path) if path is not None else default_settings_path()
        tmp = path.with_name(path.name + ".partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise CompanionError(f"cannot save the settings to {path} ({exc.strerror}): "
                                 f"free some disk space or check the folder's permissions") from None
        return path


def _read_values(path: Path) -> dict:
    """The settings file's JSON object; {} when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise CompanionError(f"cannot read the settings file {path} ({why}): "
                             f"check its permissions, or delete it to start from the defaults") from None
    try:
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise CompanionError(f"the settings file {path} is not valid JSON ({exc}): "
                             f"fix it, or delete it to start from the defaults") from None
    return values


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
