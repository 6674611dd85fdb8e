"""espeak-ng through the library that `espeakng-loader` ships (it includes Romanian).

Formant synthesis: robotic but intelligible, tiny and fast, and it speaks Romanian, so it is
the default for Sora and NOVA until a Romanian neural voice is configured. Pitch, rate and
volume use espeak's own parameters; the variant (e.g. "f3") picks the voice character.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from companion.errors import CompanionError
from companion.speech.audio import AudioChunk
from companion.speech.voices import VoiceProfile

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_DEFAULT_RATE = 175  # words per minute, espeak's own default
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)

_instance: EspeakEngine | None = None
_instance_lock = threading.Lock()


@dataclass
class EspeakEngine:
    """The process-wide espeak-ng instance (the C library keeps global state)."""

    lib: ctypes.CDLL
    sample_rate: int
    _callback: object = None
    _buffer: list = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls) -> EspeakEngine:
        global _instance
        with _instance_lock:
            if _instance is None:
                _instance = cls._initialise()
            return _instance

    @classmethod
    def _initialise(cls) -> EspeakEngine:
        try:
            import espeakng_loader

            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data = espeakng_loader.get_data_path()
        except (ImportError, OSError, RuntimeError) as exc:
            raise CompanionError(
                f"espeak-ng is not available ({exc}): run ./setup.sh to install espeakng-loader"
            ) from None
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(),
                                     _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise CompanionError(f"espeak-ng failed to start (code {rate}) with data in {data}")
        engine = cls(lib, rate)

        def collect(wav, count, events):
            if wav and count > 0:
                engine._buffer.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
            return 0

        engine._callback = _CALLBACK(collect)  # keep a reference: C holds only the pointer
        lib.espeak_SetSynthCallback(engine._callback)
        return engine

    def synthesize(self, text: str, profile: VoiceProfile) -> Iterator[AudioChunk]:
        name = profile.voice + (f"+{profile.variant}" if profile.variant else "")
        with self._lock:
            if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
                raise CompanionError(
                    f"{profile.source}: espeak-ng has no voice {name!r}; set 'voice' to a "
                    "language code such as 'ro' or 'en' and 'variant' to e.g. 'f3' or 'm3'")
            # pitch 1.0 → espeak's 50; each 0.1 of the factor moves it 10 of its 0..100 scale
            self.lib.espeak_SetParameter(_PITCH, int(np.clip(50 + (profile.pitch - 1) * 100, 0, 100)), 0)
            self.lib.espeak_SetParameter(_RATE, int(np.clip(_DEFAULT_RATE * profile.speed, 80, 450)), 0)
            self.lib.espeak_SetParameter(_VOLUME, int(np.clip(profile.volume * 100, 0, 200)), 0)
            data = text.encode("utf-8") + b"\0"
            self._buffer.clear()
            err = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if err != 0:
                raise CompanionError(f"espeak-ng could not synthesise the text (code {err})")
            pcm = np.concatenate(self._buffer) if self._buffer else np.zeros(0, np.int16)
            self._buffer.clear()
        if pcm.size:
            yield AudioChunk((pcm.astype(np.float32) / 32768.0), self.sample_rate)
