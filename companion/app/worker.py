"""CompanionWorker: the QObject that owns the Companion, living in its own QThread.

Widgets never call the model or the store: they emit requests that arrive here as queued
slot calls (one at a time, in order), and everything comes back as signals carrying plain
Python values (str, int, tuple, dict, list; containers are declared `object` so Qt hands
them over untouched instead of converting them to QVariant). Because the worker's slots run
in order, text sent while the model is still loading simply waits for it.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from companion.config import AppSettings
from companion.errors import CompanionError


def message_dict(message) -> dict:
    """A stored Message as plain values for a signal."""
    return {
        "id": message.id,
        "ts": message.ts,
        "role": message.role,
        "text": message.text,
        "episode_id": message.episode_id,
        "tribe": message.tribe.value if message.tribe else None,
        "alpha": message.alpha.as_tuple() if message.alpha else None,
    }


def readable(exc: BaseException) -> str:
    """An exception as a sentence for a person; unexpected ones also go to stderr in full."""
    if isinstance(exc, CompanionError):
        return str(exc)
    traceback.print_exception(exc, file=sys.stderr)
    return (f"unexpected error ({type(exc).__name__}: {exc}). Nothing said so far is lost; "
            f"try again, and report it if it keeps happening")


VOICE_SAMPLES = {"sora": "Bună seara. Sunt Sora și mă bucur că ești aici.",
                 "nova": "Salut. Sunt NOVA și îți explic lucrurile pas cu pas.",
                 "lumin": "Hello. I am Lumin, and I keep my answers short and clear."}


class CompanionWorker(QObject):
    # loading
    progress = Signal(str)  # a step of the start-up, for the loading banner
    history = Signal(object)  # past messages (dicts, oldest first) when the store opens
    ready = Signal(object)  # {"model", "model_path", "db", "load_ms", "store_ms"}
    load_failed = Signal(str)  # what went wrong and what to do
    # a turn
    busy = Signal(bool)
    user_stored = Signal(object)
    reply_started = Signal(str, object)  # tribe name, α (nova, sora, lumin)
    reply_piece = Signal(str)
    turn_done = Signal(object)  # {"reply": dict | None, "tribe", "alpha", "timings": {...}}
    notice = Signal(str)
    error = Signal(str)
    not_sent = Signal(str, str)  # the text, why it was not stored (no model loaded)
    # actions on replies
    feedback_saved = Signal(int, str, int)  # message id, "rate" | "star" | "unstar", value
    episode_started = Signal(int)
    # speech
    speech_status = Signal(object)  # SpeechStatus.to_dict(): what works, and why not
    heard = Signal(object)  # {"text", "language", "stt_ms"}: the transcript of a spoken turn
    not_heard = Signal(str)  # a recording that became no turn (silence, error), and why
    audio_state = Signal(str)  # "transcribing" | "speaking" | "idle"
    playback_done = Signal(object)  # {"reason", "played_s", "stop_ms", "end_to_audio_ms", "underflows"}
    devices_listed = Signal(object)  # {"inputs": [names], "outputs": [names]} after a rescan

    def __init__(self, settings: AppSettings, model_dir: str | Path | None = None,
                 db_path: str | Path | None = None, history_limit: int = 60):
        super().__init__()
        self.settings = settings
        self.model_override = Path(model_dir) if model_dir else None
        self.db_override = Path(db_path) if db_path else None
        self.history_limit = history_limit
        self.companion = None
        self.store = None
        self.cancel = threading.Event()  # set from any thread: stop the reply being generated
        from companion.speech.session import SpeechSession

        # The GUI thread calls speech.start_take()/end_take()/barge_in() directly (cheap and
        # thread-safe); everything slow (opening devices, STT, synthesis) runs here.
        self.speech = SpeechSession(on_playback=self._on_playback)
        self._speech_lock = threading.Lock()
        self._speech_started = False
        self._turn_take_ended: float | None = None

    # -- loading ------------------------------------------------------------------------------

    def _model_path(self):
        if self.model_override is not None:
            return self.model_override, None
        if self.settings.model_dir:
            return Path(self.settings.model_dir).expanduser(), None
        from companion.versions import ModelVersions

        versions = ModelVersions()
        return versions.current_path(), versions

    @Slot()
    def load(self) -> None:
        """Open the store (history first: it is fast), then load the model."""
        from companion.companion import Companion
        from companion.generation import load_generator
        from companion.memory.store import ConversationStore

        self._close()
        if not self._speech_started:
            self._speech_started = True
            self.open_speech()
        started = time.perf_counter()
        try:
            db = self.db_override or self.settings.db_path()
            self.progress.emit(f"opening the conversation memory {db.name}…")
            self.store = ConversationStore.open(db)
            self.history.emit([message_dict(m) for m in self.store.recent(self.history_limit)])
            store_ms = (time.perf_counter() - started) * 1000
            path, versions = self._model_path()
            self.progress.emit(f"loading model {path.name}…")
            model_started = time.perf_counter()
            generator = load_generator(path)
            self.progress.emit("preparing the reply filter…")
            self.companion = Companion(generator, self.store, self.settings.companion_config(),
                                       versions=versions, model_path=path)
            load_ms = (time.perf_counter() - model_started) * 1000
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a banner
            self.companion = None
            self.load_failed.emit(readable(exc))
            return
        self.ready.emit({"model": path.name, "model_path": str(path), "db": str(self.store.path),
                         "load_ms": round(load_ms, 1), "store_ms": round(store_ms, 1)})

    @Slot()
    def open_speech(self) -> None:
        """Microphone, speaker and speech model, in a thread of their own.

        Loading Whisper holds the GIL for ~250 ms at a time (CTranslate2's model constructor,
        measured), so it must not run between the turns this thread serves; started beside
        the model load, it is ready about when the model is.
        """
        threading.Thread(target=self._open_speech_now, args=(self.settings,), daemon=True,
                         name="speech-open").start()

    @Slot()
    def rescan_devices(self) -> None:
        """Look for microphones and speakers plugged in since start (the settings' Rescan)."""
        threading.Thread(target=self._rescan_now, daemon=True, name="speech-rescan").start()

    def _rescan_now(self) -> None:
        from companion.speech.devices import list_devices, refresh

        with self._speech_lock:
            self.speech.close_devices()  # PortAudio rescans only with every stream closed
            listed = {"inputs": [], "outputs": []}
            try:
                refresh()
                for d in list_devices():
                    if d.max_inputs:
                        listed["inputs"].append(d.name)
                    if d.max_outputs:
                        listed["outputs"].append(d.name)
            except CompanionError as exc:
                self.error.emit(str(exc))
            self.devices_listed.emit(listed)
            self._open_speech_locked(self.settings)

    def _open_speech_now(self, s: AppSettings) -> None:
        with self._speech_lock:
            self._open_speech_locked(s)

    def _open_speech_locked(self, s: AppSettings) -> None:
        from companion.speech.session import SpeechConfig

        try:
            config = SpeechConfig(input_device=s.input_device, output_device=s.output_device,
                                  stt=s.stt_config(), speak=s.speak_replies)
            status = self.speech.open(config)
        except BaseException as exc:  # noqa: BLE001 - speech failing must leave text working
            self.speech_status.emit({"listening": False, "speaking": False,
                                     "input_reason": readable(exc), "output_reason": "", "stt_reason": ""})
            return
        self.speech_status.emit(status.to_dict())

    @Slot(object)
    def apply_settings(self, settings: AppSettings) -> None:
        """New settings: style, persona and sampling apply at once; new folders reload."""
        old, self.settings = self.settings, settings
        folders_changed = (old.model_dir, old.data_dir) != (settings.model_dir, settings.data_dir)
        if folders_changed or self.companion is None:
            self.load()
            return
        self.companion.reconfigure(settings.companion_config())
        speech = ("input_device", "output_device", "stt_model", "stt_language", "speak_replies")
        if any(getattr(old, k) != getattr(settings, k) for k in speech):
            self.open_speech()
        self.notice.emit("settings applied")

    # -- a turn -------------------------------------------------------------------------------

    @Slot(str)
    def send_text(self, text: str) -> None:
        if self.companion is None:
            self.not_sent.emit(text, "not sent: no model is loaded (see the message above); "
                                     "fix the model folder in Settings, then send it again")
            return
        self._turn_take_ended = None
        self._run_turn(lambda: self.companion.respond(text))

    @Slot(object)
    def send_audio(self, audio) -> None:
        """A push-to-talk recording (float32 mono 16 kHz): recognise it, then answer it."""
        if self.companion is None:
            self.not_heard.emit("the model is not loaded yet: wait for it, or fix the model "
                                "folder in Settings, then speak again")
            return
        try:
            recognizer = self.speech.transcribe_needed()
        except CompanionError as exc:
            self.not_heard.emit(str(exc))
            return
        self._turn_take_ended = self.speech.take_ended
        self.audio_state.emit("transcribing")
        self._run_turn(lambda: self.companion.respond_audio(audio, 16000, recognizer), spoken=True)

    def _run_turn(self, events, spoken: bool = False) -> None:
        from companion.companion import (Heard, Notice, ReplyPiece, Retry, Sentence, TurnDone,
                                         UserStored, VoiceChosen)

        self.cancel.clear()
        self.busy.emit(True)
        speaker = self.speech.speaker if self.settings.speak_replies else None
        speaking = False
        heard = not spoken
        last_words = ""  # why a recording became no turn
        try:
            for event in events():
                if isinstance(event, Heard):
                    heard = True
                    self.heard.emit({"text": event.text, "language": event.language, "stt_ms": event.stt_ms})
                elif isinstance(event, UserStored):
                    self.user_stored.emit(message_dict(event.message))
                elif isinstance(event, VoiceChosen):
                    self.reply_started.emit(event.tribe.value, event.alpha.as_tuple())
                    if speaker is not None and not self.cancel.is_set():
                        try:
                            speaker.begin(event.tribe)
                        except CompanionError as exc:  # no sound: the reply still comes as text
                            self.notice.emit(f"this reply is not spoken: {exc}")
                        else:
                            speaking = True
                            self.audio_state.emit("speaking")
                elif isinstance(event, Sentence):
                    if speaking:
                        speaker.sentence(event.text)
                elif isinstance(event, ReplyPiece):
                    self.reply_piece.emit(event.text)
                elif isinstance(event, Notice):
                    last_words = event.text
                    self.notice.emit(event.text)
                elif isinstance(event, Retry):
                    self.notice.emit(f"re-sampling: try {event.attempt} was {event.reason}")
                elif isinstance(event, TurnDone):
                    m = event.metrics
                    self.turn_done.emit({
                        "reply": message_dict(event.reply) if event.reply else None,
                        "tribe": event.tribe.value,
                        "alpha": event.alpha.as_tuple(),
                        "timings": {"stt_ms": m.stt_ms, "first_token_ms": m.first_token_ms,
                                    "gen_ms": m.gen_ms, "total_ms": m.total_ms, "tokens": m.tokens,
                                    "tries": m.tries},
                        "stop_reason": event.stop_reason,
                        "knowledge": [{"tribe": e.tribe, "user": e.user} for e in event.knowledge],
                        "unsure": event.unsure,
                    })
                if self.cancel.is_set():
                    # Closing the generator stops the model and stores nothing half-made.
                    if speaking:
                        speaker.stop()
                    self.notice.emit("stopped")
                    break
        except BaseException as exc:  # noqa: BLE001
            if speaking:
                speaker.stop()
            if heard:
                self.error.emit(readable(exc))
            else:
                last_words = readable(exc)
        finally:
            if not heard:
                self.not_heard.emit(last_words or "nothing was recognised")
            if speaking:
                speaker.end()
            else:
                self.audio_state.emit("idle")
            self.busy.emit(False)

    @Slot(int)
    def replay(self, message_id: int) -> None:
        """Speak a stored reply again in its persona's voice."""
        if not self._need_store():
            return
        from companion.tribes import Tribe

        try:
            message = self.store.get_message(message_id)
            self._turn_take_ended = None
            self.speech.say(message.text, message.tribe or Tribe.NOVA)
            self.audio_state.emit("speaking")
        except CompanionError as exc:
            self.error.emit(str(exc))

    @Slot(str, object)
    def test_voice(self, tribe: str, values: dict | None = None) -> None:
        """A sample sentence in a persona's voice as the settings dialog shows it (unsaved)."""
        from companion.speech.voices import VoiceProfile
        from companion.tribes import Tribe

        try:
            persona = Tribe.parse(tribe)
            profile = VoiceProfile.named(persona.value)
            if values:
                profile = profile.with_overrides(**values)
            self._turn_take_ended = None
            self.speech.say(VOICE_SAMPLES[persona.value], persona, profile)
            self.audio_state.emit("speaking")
        except CompanionError as exc:
            self.error.emit(str(exc).replace("<override>", f"{tribe} voice"))

    def _on_playback(self, result) -> None:
        """Called from the player's thread when playback really ended."""
        took = self._turn_take_ended
        end_to_audio = (round((result.first_audio_at - took) * 1000, 1)
                        if took and result.first_audio_at else None)
        self.playback_done.emit({"reason": result.reason, "played_s": round(result.played_seconds, 2),
                                 "stop_ms": round(result.stop_ms, 1), "end_to_audio_ms": end_to_audio,
                                 "error": result.error, "underflows": result.underflows})
        self.audio_state.emit("idle")

    @Slot()
    def new_episode(self) -> None:
        if self._need_store():
            try:
                self.episode_started.emit(self.store.new_episode().id)
            except CompanionError as exc:
                self.error.emit(str(exc))

    @Slot(int, int)
    def rate(self, message_id: int, rating: int) -> None:
        if self._need_store():
            try:
                self.feedback_saved.emit(message_id, "rate", self.store.rate(message_id, rating).rating)
            except CompanionError as exc:
                self.error.emit(str(exc))

    @Slot(int, bool)
    def star(self, message_id: int, on: bool) -> None:
        if self._need_store():
            try:
                if on:
                    self.store.star(message_id)
                else:
                    self.store.unstar(message_id)
                self.feedback_saved.emit(message_id, "star" if on else "unstar", int(on))
            except CompanionError as exc:
                self.error.emit(str(exc))

    def _need_store(self) -> bool:
        if self.store is None:
            self.error.emit("the conversation memory is not open: check the data folder in Settings")
            return False
        return True

    @Slot()
    def shutdown(self) -> None:
        self._close()
        with self._speech_lock:  # an open still running finishes first
            self.speech.close()

    def _close(self) -> None:
        self.companion = None
        self.speech.barge_in()
        if self.store is not None:
            self.store.close()
            self.store = None
