"""MainWindow: conversation, composer, α meter and plot, status bar; drives the worker."""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QThread, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QMainWindow, QPlainTextEdit,
                               QPushButton, QVBoxLayout, QWidget)

from companion.app import theme
from companion.app.bubbles import ConversationView
from companion.app.meters import LevelMeter
from companion.app.sidebar import Sidebar
from companion.app.widgets import Banner
from companion.app.settings import SettingsDialog
from companion.app.talk import IDLE_LABEL, TalkController
from companion.app.worker import CompanionWorker
from companion.config import AppSettings
from companion.errors import CompanionError


class MainWindow(QMainWindow):
    send_requested = Signal(str)
    rate_requested = Signal(int, int)
    star_requested = Signal(int, bool)
    replay_requested = Signal(int)
    new_episode_requested = Signal()
    settings_changed = Signal(object)
    model_ready = Signal(bool)  # True when loaded, False when it failed (for --screenshot)

    def __init__(self, settings_path: str | Path | None = None, model_dir: str | Path | None = None,
                 db_path: str | Path | None = None):
        super().__init__()
        self.settings_path = settings_path
        self.settings, self.settings_error = AppSettings.load_keeping_valid(settings_path)
        self.loaded = False
        self._loads = 1  # loads asked of the worker and not answered yet (the first one starts now)
        self.load_info: dict = {}
        self.last_timings: dict = {}
        self._pending: deque = deque()  # user bubbles shown but not stored yet
        self._reply = None  # the bubble of the reply being generated
        self._busy = self.speaking = False
        self.speech_status: dict = {}
        self._episode_id = None

        self.setWindowTitle("NOVA companion")
        self.setWindowIcon(theme.app_icon())
        self.setStyleSheet(theme.STYLE_SHEET)
        self.resize(1040, 720)
        self._build()

        # The worker runs Python between torch calls; with the default 5 ms GIL switch interval
        # every Qt call the GUI thread makes can wait up to 5 ms for the GIL during a turn.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self.thread = QThread(self)
        self.thread.setObjectName("companion-worker")
        self.worker = CompanionWorker(self.settings, model_dir, db_path)
        self.worker.moveToThread(self.thread)
        self.talk = TalkController(self)
        self._connect()
        self.banner.show_info("Loading model…", "You can type already: your message is answered "
                              "as soon as the model is ready.")
        self.thread.started.connect(self.worker.load)
        self.thread.start()
        if self.settings_error:
            self.status_note.setText(self.settings_error)

    # -- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        central = QWidget()
        outer = QHBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)

        main = QWidget()
        col = QVBoxLayout(main)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        banner_holder = QWidget()
        bh = QVBoxLayout(banner_holder)
        bh.setContentsMargins(16, 12, 16, 0)
        self.banner = Banner()
        self.banner.settings_button.clicked.connect(self.open_settings)
        self.banner.retry_button.clicked.connect(self._retry)
        bh.addWidget(self.banner)
        col.addWidget(banner_holder)
        self.conversation = ConversationView()
        col.addWidget(self.conversation, 1)

        composer = QFrame()
        composer.setObjectName("composer")
        row = QHBoxLayout(composer)
        row.setContentsMargins(16, 12, 16, 12)
        row.setSpacing(10)
        self.talk_button = QPushButton(IDLE_LABEL)
        self.talk_button.setIcon(QIcon(theme.svg_pixmap("mic.svg", 32)))
        self.talk_button.setObjectName("talk")
        self.talk_button.setEnabled(False)
        self.talk_button.setToolTip("the microphone is being opened…")
        self.talk_button.setFocusPolicy(Qt.NoFocus)  # Space must reach the talk key, not "click"
        talk_col = QVBoxLayout()
        talk_col.setSpacing(4)
        talk_col.addWidget(self.talk_button)
        self.level = LevelMeter()
        self.level.hide()
        talk_col.addWidget(self.level)
        self.input = QPlainTextEdit()
        self.input.setObjectName("input")
        self.input.setPlaceholderText("Write a message…  (Enter sends, Shift+Enter for a new line)")
        self.input.setFixedHeight(46)
        self.input.installEventFilter(self)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primary")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("stop the reply being written or spoken")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        row.addLayout(talk_col)
        row.addWidget(self.input, 1)
        row.addWidget(self.stop_button)
        row.addWidget(self.send_button)
        col.addWidget(composer)
        outer.addWidget(main, 1)

        self.side = Sidebar()
        self.meter, self.plot = self.side.meter, self.side.plot
        self.new_button = self.side.new_button
        self.new_button.clicked.connect(self.new_episode_requested)
        self.settings_button = self.side.settings_button
        self.settings_button.clicked.connect(self.open_settings)
        outer.addWidget(self.side)
        self.setCentralWidget(central)

        bar = self.statusBar()
        self.status_model = QLabel("model: loading…")
        self.status_voice = QLabel("voice: —")
        self.status_timings = QLabel("last turn: —")
        self.status_note = QLabel()
        bar.addWidget(self.status_note, 1)
        for label in (self.status_model, self.status_voice, self.status_timings):
            bar.addPermanentWidget(label)
        self._show_persona(None)

    def _connect(self) -> None:
        w = self.worker
        self.send_requested.connect(w.send_text)
        self.rate_requested.connect(w.rate)
        self.star_requested.connect(w.star)
        self.replay_requested.connect(w.replay)
        self.conversation.replayed.connect(self.replay_requested)
        self.talk.audio_ready.connect(w.send_audio)
        self.new_episode_requested.connect(w.new_episode)
        self.settings_changed.connect(w.apply_settings)
        self.conversation.rated.connect(self.rate_requested)
        self.conversation.starred.connect(self.star_requested)
        # Only bound methods of GUI-thread objects here: a lambda would run in the worker thread.
        w.progress.connect(self._on_progress)
        w.history.connect(self._on_history)
        w.ready.connect(self._on_ready)
        w.load_failed.connect(self._on_load_failed)
        w.busy.connect(self._on_busy)
        w.user_stored.connect(self._on_user_stored)
        w.not_sent.connect(self._on_not_sent)
        w.reply_started.connect(self._on_reply_started)
        w.reply_piece.connect(self._on_piece)
        w.turn_done.connect(self._on_turn_done)
        w.notice.connect(self.status_note.setText)
        w.error.connect(self._on_error)
        w.feedback_saved.connect(self._on_feedback)
        w.episode_started.connect(self._on_episode)
        w.speech_status.connect(self.talk.set_status)
        w.heard.connect(self.talk.heard)
        w.not_heard.connect(self.talk.not_heard)
        w.audio_state.connect(self.talk.audio_state)
        w.playback_done.connect(self.talk.playback_done)

    # -- user actions -------------------------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:
        if obj is self.input and event.type() == QEvent.KeyPress:
            if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & Qt.ShiftModifier:
                self.send()
                return True
        return super().eventFilter(obj, event)

    def send(self) -> None:
        text = self.input.toPlainText().strip()
        if not text:
            return
        self.input.clear()
        bubble = self.conversation.add("user", text)
        self.queue_pending(bubble)
        self.send_requested.emit(text)

    def queue_pending(self, bubble) -> None:
        """A user bubble shown now and stored by the worker later (typed or spoken)."""
        if not self.loaded:
            bubble.set_note("waiting for the model…")
        self._pending.append(bubble)

    def forget_pending(self, bubble) -> None:
        if bubble in self._pending:
            self._pending.remove(bubble)

    def stop(self) -> None:
        self.worker.cancel.set()  # a thread-safe flag; the worker stops at the next piece
        self.worker.speech.barge_in(wait=False)

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self)
        dialog.setStyleSheet(theme.STYLE_SHEET)
        dialog.test_voice_requested.connect(self.worker.test_voice)
        dialog.rescan_requested.connect(self.worker.rescan_devices)
        self.worker.devices_listed.connect(dialog.set_devices)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings()))
        dialog.open()
        return dialog

    def apply_settings(self, settings: AppSettings) -> None:
        """Save, then hand to the worker (persona/style/sampling now; folders reload)."""
        try:
            settings.save(self.settings_path)
        except CompanionError as exc:
            self._on_error(str(exc))
            return
        reload = (settings.model_dir, settings.data_dir) != (self.settings.model_dir, self.settings.data_dir)
        self.settings = settings
        if reload or not self.loaded:
            self.loaded = False
            self._loads += 1
            self.banner.show_info("Loading…", "Loading with the new settings.")
        self.talk.set_key(settings.ptt_key)
        self.settings_changed.emit(settings)
        self.status_note.setText("settings saved")

    def _retry(self) -> None:
        self.loaded = False
        self._loads += 1
        self.banner.show_info("Loading…", "Trying again.")
        self.settings_changed.emit(self.settings)

    # -- worker signals -----------------------------------------------------------------------

    def _on_progress(self, text: str) -> None:
        self.banner.show_info("Loading…", text[:1].upper() + text[1:] + "  You can type already.")

    def _on_history(self, messages: list) -> None:
        waiting = [b.text.text() for b in self._pending]  # typed before the store opened
        self.conversation.clear()
        self.plot.clear()
        episode = None
        for m in messages:
            if m["episode_id"] != episode and episode is not None:
                self.conversation.add_separator("— new episode —")
            episode = m["episode_id"]
            bubble = self.conversation.add(m["role"], m["text"], m["tribe"], m["id"], m["ts"])
            if m["role"] == "assistant" and m["alpha"]:
                self.plot.add(m["alpha"])
                self.meter.set_alpha(m["alpha"], m["tribe"])
                self._show_persona(m["tribe"])
            bubble.setProperty("episode", episode)
        self._episode_id = episode
        self._pending = deque(self.conversation.add("user", text) for text in waiting)
        for bubble in self._pending:
            bubble.set_note("waiting for the model…")
        # The plot shows the current episode only.
        self.plot.clear()
        for m in messages:
            if m["episode_id"] == episode and m["role"] == "assistant" and m["alpha"]:
                self.plot.add(m["alpha"])

    def _on_ready(self, info: dict) -> None:
        self._loads = max(0, self._loads - 1)
        if self._loads:
            return  # a newer load (new settings) is on its way
        self.loaded = True
        self.load_info = info
        self.banner.hide()
        if self.speech_status:
            self.talk.set_status(self.speech_status)  # text mode found while the model loaded
        self.status_model.setText(f"model: {info['model']}")
        for bubble in self._pending:
            bubble.set_note("")
        self.model_ready.emit(True)

    def _on_load_failed(self, text: str) -> None:
        self._loads = max(0, self._loads - 1)
        if self._loads:
            return
        self.loaded = False
        self.banner.show_error("The model could not be loaded", text + "\n\nChoose a model "
                               "folder in Settings (one written by `companion train`), then Retry. "
                               "Your conversations are safe.")
        self.status_model.setText("model: not loaded")
        self.model_ready.emit(False)

    def _on_busy(self, busy: bool) -> None:
        self._busy = busy
        self.stop_button.setVisible(busy or self.speaking)
        if not busy and self._reply is not None and self._reply.message_id is None:
            self._reply.set_note("stopped")
            self._reply = None

    def _on_user_stored(self, m: dict) -> None:
        if self._pending:
            self._pending.popleft().set_stored(m["id"], m["ts"])
        if self._episode_id is not None and m["episode_id"] != self._episode_id:
            self.plot.clear()  # an idle gap opened a new episode
        self._episode_id = m["episode_id"]
        self._reply = None

    def _on_not_sent(self, text: str, reason: str) -> None:
        if self._pending:
            self._pending.popleft().set_note(reason, error=True)

    def _on_reply_started(self, tribe: str, alpha) -> None:
        self._reply = self.conversation.add("assistant", "", tribe)
        self._reply.set_note("writing…")
        self.meter.set_alpha(alpha, tribe)
        self._show_persona(tribe)

    def _on_piece(self, text: str) -> None:
        if self._reply is None:
            self._reply = self.conversation.add("assistant", "", "nova")
        self._reply.append(text)

    def _on_turn_done(self, done: dict) -> None:
        reply, tribe, alpha = done["reply"], done["tribe"], done["alpha"]
        if self._reply is not None:
            if reply is None:
                self._reply.setParent(None)
                self.conversation.bubbles.remove(self._reply)
            else:
                self._reply.set_tribe(tribe)
                self._reply.set_text(reply["text"])
                self._reply.set_stored(reply["id"], reply["ts"])
                # Only the answers of the tribe that spoke are copied from (companion/model/copy.py).
                self._reply.show_sources([k["user"] for k in done.get("knowledge", ()) if k["tribe"] == tribe],
                                         unsure=done.get("unsure", False))
        self._reply = None
        self.meter.set_alpha(alpha, tribe)
        self.plot.add(alpha)
        self._show_persona(tribe)
        t = self.last_timings = dict(done["timings"])
        stt = f"heard in {t['stt_ms']:.0f} ms · " if t.get("stt_ms") else ""
        first = f"first word {t['first_token_ms']:.0f} ms · " if t.get("first_token_ms") else ""
        self.status_timings.setText(f"last turn: {stt}{first}total {t['total_ms']:.0f} ms")
        if self.status_note.text() in ("recognising speech…", "listening…"):
            self.status_note.setText("")
        spoken = "" if self.speech_status.get("speaking") else " (text only)"
        self.status_voice.setText(f"voice: {theme.PERSONAS[tribe].name}{spoken}")

    def _on_error(self, text: str) -> None:
        self.banner.show_error("Something went wrong", text)
        self.banner.settings_button.hide()
        self.banner.retry_button.hide()

    def _on_feedback(self, message_id: int, kind: str, value: int) -> None:
        bubble = self.conversation.by_id(message_id)
        if bubble is None:
            return
        if kind == "rate":
            bubble.show_rating(value)
            self.status_note.setText(f"rated {value}/5 — it will guide the next fine-tuning")
        else:
            bubble.show_starred(bool(value))
            self.status_note.setText("kept as a snapshot" if value else "snapshot removed")

    def _on_episode(self, episode_id: int) -> None:
        self._episode_id = episode_id
        self.conversation.add_separator("— new episode —")
        self.plot.clear()
        self.meter.set_alpha(None)
        self._show_persona(None)

    def _show_persona(self, tribe: str | None) -> None:
        self.side.show_persona(tribe, self.settings.persona_mode)

    # -- shutdown -----------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if self.thread.isRunning():
            self.worker.cancel.set()
            self.thread.quit()
            self.thread.wait(30_000)
        self.worker.shutdown()  # the thread has stopped: closing the store here is safe
