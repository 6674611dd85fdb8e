"""Text-to-speech engines behind one protocol: `synthesize(text, profile)` yields AudioChunks.

Engines keep their voice loaded between calls (a reply is spoken sentence by sentence, and a
per-sentence reload would cost more than the synthesis). `engine_for(profile)` caches them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from companion.errors import CompanionError
from companion.speech.audio import AudioChunk
from companion.speech.voices import VoiceProfile


@runtime_checkable
class TTSEngine(Protocol):
    """What every engine offers; chunks come as soon as each is ready."""

    def synthesize(self, text: str, profile: VoiceProfile) -> Iterator[AudioChunk]: ...


_CACHE: dict[tuple[str, str], TTSEngine] = {}
_CACHE_LOCK = threading.Lock()


def engine_for(profile: VoiceProfile) -> TTSEngine:
    """The loaded engine for a profile's (engine, voice), loading it on first use."""
    key = (profile.engine, profile.voice)
    with _CACHE_LOCK:
        engine = _CACHE.get(key)
        if engine is None:
            engine = _load(profile)
            _CACHE[key] = engine
        return engine


def _load(profile: VoiceProfile) -> TTSEngine:
    if profile.engine == "piper":
        from companion.speech.tts.piper import PiperEngine

        return PiperEngine.load(profile.voice)
    if profile.engine == "espeak":
        from companion.speech.tts.espeak import EspeakEngine

        return EspeakEngine.load()
    if profile.engine == "coqui":
        # Measured 2026-11-29: coqui-tts 0.28 imports torchaudio and torchcodec; their PyPI
        # wheels for torch >= 2.11 (torchaudio 2.11.1, torchcodec 0.17) link libc10_cuda.so and
        # do not load beside the CPU-only torch 2.13.0 this app pins.
        raise CompanionError(
            f"{profile.source}: engine 'coqui' is not available in this version (Coqui TTS "
            "needs torchaudio, which has no CPU build for the app's torch 2.13); use "
            "engine = \"piper\" with a Piper voice file (a Romanian one such as "
            "ro_RO-mihai-medium.onnx) or engine = \"espeak\"")
    raise CompanionError(f"{profile.source}: unknown engine {profile.engine!r}")


def speak(text: str | Iterable[str], profile: VoiceProfile, *, early_first: bool = True,
          engine: TTSEngine | None = None) -> Iterator[AudioChunk]:
    """Clean, split and synthesise text (whole, or streamed pieces) sentence by sentence."""
    from companion.speech.text import SentenceSplitter, clean_for_speech

    engine = engine or engine_for(profile)
    splitter = SentenceSplitter(early_first=early_first)
    pieces = [text] if isinstance(text, str) else text
    for piece in pieces:
        for sentence in splitter.feed(piece):
            yield from _say(engine, clean_for_speech(sentence, profile.language), profile)
    for sentence in splitter.flush():
        yield from _say(engine, clean_for_speech(sentence, profile.language), profile)


def _say(engine: TTSEngine, sentence: str, profile: VoiceProfile) -> Iterator[AudioChunk]:
    if any(ch.isalnum() for ch in sentence):
        yield from engine.synthesize(sentence, profile)


__all__ = ["AudioChunk", "TTSEngine", "engine_for", "speak"]
