"""SpeechSession: the app's microphone, speaker, recogniser and reply voice, opened together.

Qt-free, so the desktop worker, the benchmarks and the tests drive the same object. open() is
slow (Whisper loads, PulseAudio may take a second to deliver the first block) and belongs in a
background thread; start_take(), end_take() and barge_in() are cheap and thread-safe, so the
GUI thread calls them directly the moment a key goes down or up, even while the worker thread
is busy writing a reply.

Every part fails on its own: no microphone is "text mode", no speaker is "silent mode", a
broken speech model leaves typing and spoken replies working. `status` says which, and why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from companion.errors import CompanionError
from companion.speech.player import PlaybackResult, Player, open_player
from companion.speech.pulse_player import PulsePlayer
from companion.speech.recorder import READY, RECORDING, Recorder
from companion.speech.speaker import ReplySpeaker
from companion.speech.stt import SttConfig, Transcriber
from companion.speech.voices import VoiceProfile
from companion.tribes import Tribe


@dataclass(frozen=True)
class SpeechConfig:
    input_device: str = ""  # "" = the system default
    output_device: str = ""
    stt: SttConfig = SttConfig()
    speak: bool = True  # speak replies aloud
    preroll_ms: float = 300.0


@dataclass(frozen=True)
class SpeechStatus:
    """What works. Each reason is a sentence for the user ("" when the part works)."""

    listening: bool = False  # a microphone is open and speech recognition is loaded
    speaking: bool = False  # replies can be spoken (an output device, speak on)
    input_device: str = ""
    output_device: str = ""
    stt_model: str = ""
    input_reason: str = ""
    output_reason: str = ""
    stt_reason: str = ""
    open_ms: float = 0.0

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


class SpeechSession:
    """Recorder + Transcriber + Player/ReplySpeaker; see the module docstring."""

    def __init__(self, on_level: Callable[[float], None] | None = None,
                 on_playback: Callable[[PlaybackResult], None] | None = None):
        self.on_level = on_level
        self.on_playback = on_playback
        self.config = SpeechConfig()
        self.status = SpeechStatus()
        self.recorder: Recorder | None = None
        self.transcriber: Transcriber | None = None
        self.player: Player | PulsePlayer | None = None
        self.speaker: ReplySpeaker | None = None
        self.level_dbfs = -100.0  # the latest input level (written by the audio thread)
        self.take_started: float | None = None
        self.take_ended: float | None = None  # perf_counter() of the last key-up

    # -- opening ----------------------------------------------------------------------------

    def open(self, config: SpeechConfig) -> SpeechStatus:
        """(Re)open what changed; returns the status. Never raises for a missing device."""
        started = time.perf_counter()
        old, self.config = self.config, config
        status = self.status
        if self.transcriber is None or old.stt != config.stt:
            self.transcriber = None
            try:
                self.transcriber = Transcriber.load(config.stt)
                status = replace(status, stt_model=config.stt.model, stt_reason="")
            except CompanionError as exc:
                status = replace(status, stt_model="", stt_reason=str(exc))
        if self.recorder is None or old.input_device != config.input_device or self.recorder.state not in (READY, RECORDING):
            status = self._open_input(status, config)
        if self.player is None or old.output_device != config.output_device:
            status = self._open_output(status, config)
        listening = self.recorder is not None and self.recorder.state == READY and self.transcriber is not None
        status = replace(status, listening=listening, speaking=self.player is not None and config.speak,
                         open_ms=round((time.perf_counter() - started) * 1000, 1))
        self.status = status
        return status

    def _open_input(self, status: SpeechStatus, config: SpeechConfig) -> SpeechStatus:
        if self.recorder is not None:
            self.recorder.close()
        self.recorder = Recorder(config.input_device or None, preroll_ms=config.preroll_ms,
                                 on_level=self._level)
        try:
            state = self.recorder.open()
        except CompanionError as exc:
            return replace(status, input_device="", input_reason=str(exc))
        if state != READY:
            return replace(status, input_device="", input_reason=self.recorder.reason)
        return replace(status, input_device=self.recorder.device.name, input_reason="")

    def _open_output(self, status: SpeechStatus, config: SpeechConfig) -> SpeechStatus:
        if self.player is not None:
            self.player.close()
        self.player = self.speaker = None
        try:
            self.player = open_player(config.output_device or None, on_finished=self._finished)
        except CompanionError as exc:
            return replace(status, output_device="", output_reason=str(exc))
        self.speaker = ReplySpeaker(self.player, self._voice_for)
        # Load every persona's voice now, not in the middle of the first reply.
        from companion.speech.tts import engine_for

        for tribe in Tribe:
            try:
                engine_for(self._voice_for(tribe))
            except CompanionError as exc:
                return replace(status, output_device=self.player.name,
                               output_reason=f"the {tribe.value} voice cannot be loaded: {exc}")
        return replace(status, output_device=self.player.name, output_reason="")

    # -- push to talk (any thread) ----------------------------------------------------------

    def start_take(self) -> None:
        """Key down: interrupt what is being said and start recording (pre-roll included)."""
        self.barge_in(wait=False)
        if self.recorder is None:
            raise CompanionError("no microphone is open: type instead, or pick one in Settings")
        self.recorder.start()
        self.take_started = time.perf_counter()

    def end_take(self) -> np.ndarray:
        """Key up: the recording as float32 mono 16 kHz."""
        if self.recorder is None or self.recorder.state != RECORDING:
            raise CompanionError("not recording: hold the talk key while you speak")
        self.take_ended = time.perf_counter()
        try:
            return self.recorder.stop()
        except CompanionError:
            self.status = replace(self.status, listening=False, input_reason=self.recorder.reason)
            raise

    @property
    def recording(self) -> bool:
        return self.recorder is not None and self.recorder.state == RECORDING

    def barge_in(self, wait: bool = True) -> None:
        """Silence the reply being spoken. wait=False returns at once (the GUI thread)."""
        speaker = self.speaker
        if speaker is None or not speaker.player.playing:
            return
        if wait:
            speaker.stop()
        else:
            threading.Thread(target=speaker.stop, daemon=True, name="barge-in").start()

    # -- recognition and speech (the worker thread) -----------------------------------------

    def transcribe_needed(self) -> Transcriber:
        if self.transcriber is None:
            raise CompanionError("speech recognition is not available"
                                 + (f" ({self.status.stt_reason})" if self.status.stt_reason else "")
                                 + ": type instead, or choose another speech model in Settings")
        return self.transcriber

    def voice(self, tribe: Tribe) -> VoiceProfile:
        return self._voice_for(tribe)

    def say(self, text: str, tribe: Tribe, profile: VoiceProfile | None = None) -> None:
        """Speak a whole text now (replay, voice test); returns at once."""
        if self.speaker is None:
            raise CompanionError("no speaker is open: " + (self.status.output_reason or "pick one in Settings"))
        from companion.speech.tts import speak

        self.speaker.stop()
        self.player.play(speak(text, profile or self._voice_for(tribe)))

    def close_devices(self) -> None:
        """Close the microphone and speaker streams (PortAudio rescans only with none open);
        the speech model stays loaded. The next open() reopens them."""
        if self.recorder is not None:
            self.recorder.close()
        if self.player is not None:
            self.player.close()
        self.recorder = self.player = self.speaker = None
        self.status = SpeechStatus(stt_model=self.status.stt_model, stt_reason=self.status.stt_reason)

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        if self.player is not None:
            self.player.close()
        self.recorder = self.player = self.speaker = self.transcriber = None

    # -- callbacks ----------------------------------------------------------------------------

    @staticmethod
    def _voice_for(tribe: Tribe) -> VoiceProfile:
        # Read per utterance: a voice saved in Settings applies to the next reply. Engines stay
        # loaded (tts.engine_for caches them), so this costs a TOML read, not a model load.
        return VoiceProfile.named(tribe.value)

    def _level(self, dbfs: float) -> None:
        self.level_dbfs = dbfs
        if self.on_level is not None:
            self.on_level(dbfs)

    def _finished(self, result: PlaybackResult) -> None:
        if self.on_playback is not None:
            self.on_playback(result)
