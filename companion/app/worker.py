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

    @Slot(object)
    def apply_settings(self, settings: AppSettings) -> None:
        """New settings: style, persona and sampling apply at once; new folders reload."""
        old, self.settings = self.settings, settings
        folders_changed = (old.model_dir, old.data_dir) != (settings.model_dir, settings.data_dir)
        if folders_changed or self.companion is None:
            self.load()
            return
        from companion.tribes import VoicePolicy

        config = settings.companion_config()
        self.companion.config = config
        self.companion.policy = VoicePolicy(config.voice_threshold, config.persona_lock)
        self.notice.emit("settings applied")

    # -- a turn -------------------------------------------------------------------------------

    @Slot(str)
    def send_text(self, text: str) -> None:
        from companion.companion import (Notice, ReplyPiece, Retry, TurnDone, UserStored,
                                         VoiceChosen)

        if self.companion is None:
            self.not_sent.emit(text, "not sent: no model is loaded (see the message above); "
                                     "fix the model folder in Settings, then send it again")
            return
        self.cancel.clear()
        self.busy.emit(True)
        try:
            for event in self.companion.respond(text):
                if isinstance(event, UserStored):
                    self.user_stored.emit(message_dict(event.message))
                elif isinstance(event, VoiceChosen):
                    self.reply_started.emit(event.tribe.value, event.alpha.as_tuple())
                elif isinstance(event, ReplyPiece):
                    self.reply_piece.emit(event.text)
                elif isinstance(event, Notice):
                    self.notice.emit(event.text)
                elif isinstance(event, Retry):
                    self.notice.emit(f"re-sampling: try {event.attempt} was {event.reason}")
                elif isinstance(event, TurnDone):
                    m = event.metrics
                    self.turn_done.emit({
                        "reply": message_dict(event.reply) if event.reply else None,
                        "tribe": event.tribe.value,
                        "alpha": event.alpha.as_tuple(),
                        "timings": {"first_token_ms": m.first_token_ms, "gen_ms": m.gen_ms,
                                    "total_ms": m.total_ms, "tokens": m.tokens, "tries": m.tries},
                        "stop_reason": event.stop_reason,
                    })
                if self.cancel.is_set():
                    # Closing the generator stops the model and stores nothing half-made.
                    self.notice.emit("stopped")
                    break
        except BaseException as exc:  # noqa: BLE001
            self.error.emit(readable(exc))
        finally:
            self.busy.emit(False)

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

    def _close(self) -> None:
        self.companion = None
        if self.store is not None:
            self.store.close()
            self.store = None
