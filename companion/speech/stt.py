"""Speech recognition with faster-whisper: int8 on CPU by default, CUDA when asked and present.

Audio is checked before it reaches the model: an empty or silent recording is answered
without running Whisper (which would otherwise hallucinate "Thank you." into silence), a
recording at another rate is resampled, and an over-long one is refused with the limit named.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from companion.errors import CompanionError
from companion.speech.audio import STT_RATE, resample, to_mono

LANGUAGES = ("auto", "ro", "en")
MIN_RATE, MAX_RATE = 8_000, 192_000


@dataclass(frozen=True)
class SttConfig:
    """How to recognise speech. `model`: "base", "tiny.en" or a faster-whisper folder."""

    model: str = "base"
    device: str = "cpu"            # "cpu" or "cuda"
    compute_type: str = "int8"     # int8 keeps base fast on a laptop CPU
    language: str = "auto"         # "auto", "ro" or "en"
    # What "auto" chooses among: the companion speaks Romanian and English, and an unsure
    # Whisper (a short or accented clip) otherwise answers Polish or Portuguese, measured on
    # espeak's Romanian ("Um funkcjonana unrota r." for "Cum funcționează un router?").
    auto_languages: tuple[str, ...] = ("ro", "en")
    max_seconds: float = 60.0      # longer recordings are refused (push-to-talk is short)
    silence_dbfs: float = -50.0    # below this RMS level a recording counts as silent
    beam_size: int = 1
    cpu_threads: int = 0           # 0: CTranslate2 decides
    # faster-whisper's fallback: an unsure segment is decoded again by sampling at the next
    # temperature. Helps real speech; makes the text vary run to run (`(0.0,)`: deterministic).
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Transcript:
    """What was said. `status` is "ok", "empty" (no samples) or "silent" (nothing audible)."""

    text: str
    language: str
    status: str = "ok"
    language_probability: float = 0.0
    audio_seconds: float = 0.0
    transcribe_ms: float = 0.0
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class Transcriber:
    """A loaded Whisper model; reuse it for every turn (loading takes about a second)."""

    model: object  # faster_whisper.WhisperModel
    config: SttConfig
    load_ms: float

    @classmethod
    def load(cls, config: SttConfig = SttConfig()) -> Transcriber:
        from companion.speech.whisper_models import resolve_model

        _check_language(config.language)
        if config.device not in ("cpu", "cuda"):
            raise CompanionError(f"speech device {config.device!r} unknown: use 'cpu' or 'cuda'")
        if config.device == "cuda":
            import ctranslate2

            if ctranslate2.get_cuda_device_count() == 0:
                raise CompanionError("speech device 'cuda' asked for, but no CUDA GPU is visible: "
                                     "use device 'cpu'")
        path = resolve_model(config.model)
        from faster_whisper import WhisperModel

        start = time.perf_counter()
        try:
            model = WhisperModel(str(path), device=config.device, compute_type=config.compute_type,
                                 cpu_threads=config.cpu_threads, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise CompanionError(f"cannot load speech model {path}: {exc}") from None
        return cls(model, config, (time.perf_counter() - start) * 1000)

    @property
    def multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def transcribe(self, audio: np.ndarray, sample_rate: int = STT_RATE,
                   language: str | None = None) -> Transcript:
        """Transcribe mono (or multi-channel) audio; `language` overrides the config's."""
        language = _check_language(language or self.config.language)
        if language not in ("auto", "en") and not self.multilingual:
            raise CompanionError(
                f"the speech model {self.config.model!r} only knows English, but language "
                f"{language!r} was asked for: use the multilingual 'base' model")
        audio, warnings = prepare_audio(audio, sample_rate, self.config)
        seconds = len(audio) / STT_RATE
        if audio.size == 0:
            return Transcript("", _lang_or(language), "empty", warnings=warnings)
        if _dbfs(audio) < self.config.silence_dbfs:
            return Transcript("", _lang_or(language), "silent", audio_seconds=seconds,
                              warnings=warnings)
        start = time.perf_counter()
        detected_p = None
        if language == "auto" and self.multilingual and self.config.auto_languages:
            language, detected_p = self._detect(audio)
        segments, info = self.model.transcribe(
            audio, language=None if language == "auto" else language,
            beam_size=self.config.beam_size, vad_filter=False,
            temperature=list(self.config.temperatures),
            # With timestamps: without them Whisper sometimes ended its text at a sentence pause
            # and dropped the rest (1 in 11 Piper renderings of a two-sentence test clip heard
            # as its first sentence only; all 11 whole with timestamps, 629 vs 589 ms a clip).
            condition_on_previous_text=False, without_timestamps=False)
        text = " ".join(s.text.strip() for s in segments).strip()
        ms = (time.perf_counter() - start) * 1000
        probability = detected_p if detected_p is not None else info.language_probability
        return Transcript(text, info.language, "ok" if text else "silent",
                          float(probability), seconds, ms, warnings)

    def _detect(self, audio: np.ndarray) -> tuple[str, float | None]:
        """The likeliest of config.auto_languages and its probability. faster-whisper's own
        "auto" runs the same detection pass before decoding, so choosing here costs nothing."""
        _, _, probabilities = self.model.detect_language(audio)
        allowed = {lang: p for lang, p in probabilities if lang in self.config.auto_languages}
        if not allowed:
            return "auto", None
        best = max(allowed, key=allowed.get)
        return best, allowed[best]


def prepare_audio(audio, sample_rate: int, config: SttConfig) -> tuple[np.ndarray, tuple[str, ...]]:
    """Mono float32 at 16 kHz, or a CompanionError saying what is wrong with the input."""
    warnings: list[str] = []
    audio = np.asarray(audio)
    if audio.ndim > 2:
        raise CompanionError(f"audio must be mono or (frames, channels), got shape {audio.shape}")
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max + 1)
    audio = to_mono(audio.astype(np.float32, copy=False))
    if not MIN_RATE <= int(sample_rate) <= MAX_RATE:
        raise CompanionError(
            f"sample rate {sample_rate} Hz is not usable for speech: record at "
            f"{STT_RATE} Hz (anything from {MIN_RATE} to {MAX_RATE} Hz is resampled)")
    if audio.size and not np.isfinite(audio).all():
        raise CompanionError("audio contains NaN or infinite samples: the recording is corrupt")
    seconds = audio.size / float(sample_rate)
    if seconds > config.max_seconds:
        raise CompanionError(
            f"audio is {seconds:.1f} s long, over the {config.max_seconds:g} s limit: "
            "record a shorter turn or raise max_seconds in the speech settings")
    if audio.size and np.mean(np.abs(audio) >= 0.999) > 0.001:
        warnings.append("clipped: the input is too loud and distorts; lower the microphone gain")
    if int(sample_rate) != STT_RATE:
        warnings.append(f"resampled from {sample_rate} Hz to {STT_RATE} Hz")
        audio = resample(audio, int(sample_rate), STT_RATE)
    return np.clip(audio, -1.0, 1.0), tuple(warnings)


def _dbfs(audio: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20 * np.log10(max(rms, 1e-10))


def _check_language(language: str) -> str:
    lang = (language or "auto").lower()
    if lang not in LANGUAGES:
        raise CompanionError(f"speech language {language!r} unknown: use one of {', '.join(LANGUAGES)}")
    return lang


def _lang_or(language: str) -> str:
    return "" if language == "auto" else language
