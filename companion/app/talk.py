"""Push-to-talk in the window: the talk button, the held key, the level meter, the voice bubble.

Key down and key up call the worker's SpeechSession directly (a lock and a list append: the
recording must start the moment the key goes down, even while the worker thread is busy
writing a reply). The recording then travels to the worker as a queued signal.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QPlainTextEdit, QTextEdit

from companion.errors import CompanionError

IDLE_LABEL = " Hold to talk"


def key_from_name(name: str) -> int | None:
    """A Qt key code from a name such as "Space", "F9" or "Ctrl+Space" (its key only)."""
    sequence = QKeySequence.fromString(name.strip(), QKeySequence.PortableText)
    if sequence.isEmpty():
        return None
    key = sequence[0].key()
    return None if key == Qt.Key_unknown else int(key)


class TalkController(QObject):
    """Owns push-to-talk for a MainWindow (its talk_button, level meter and conversation)."""

    audio_ready = Signal(object)  # float32 mono 16 kHz, for worker.send_audio

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.speech = window.worker.speech
        self.key = key_from_name(window.settings.ptt_key) or int(Qt.Key_Space)
        self.available = False
        self.voice_bubbles: list = []  # spoken turns waiting for their transcript, in order
        self.last_error = ""
        self._level_timer = QTimer(self)
        self._level_timer.setInterval(33)
        self._level_timer.timeout.connect(self._poll_level)
        button = window.talk_button
        button.pressed.connect(self.press)
        button.released.connect(self.release)
        QApplication.instance().installEventFilter(self)

    # -- state from the worker --------------------------------------------------------------

    def set_status(self, status: dict) -> None:
        """What speech can do now (SpeechStatus as a dict): button, banner, status bar."""
        w = self.window
        w.speech_status = status
        self.available = bool(status.get("listening"))
        voice = "voice: on" if status.get("speaking") else "voice: off"
        if not status.get("speaking") and status.get("output_reason"):
            voice = "voice: no speaker"
        w.status_voice.setText(voice)
        if not self.available and status:
            why = (status.get("input_reason") or status.get("stt_reason") or "unknown reason").rstrip(".")
            w.banner.show_info("Text mode", f"Speech input is off ({why}). You can type; "
                               "pick a microphone in Settings to talk.", busy=False)
            w.banner.settings_button.show()
        elif w.loaded and w.banner.isVisible() and w.banner.title.text() == "Text mode":
            w.banner.hide()
        button = w.talk_button
        button.setEnabled(self.available)
        key = QKeySequence(self.key).toString(QKeySequence.NativeText) or "Space"
        if self.available:
            button.setToolTip(f"hold to talk (or hold {key} while the text box is not focused); "
                              f"pressing it while the companion speaks interrupts it")
        else:
            why = status.get("input_reason") or status.get("stt_reason") or "speech is not available"
            button.setToolTip(f"text mode: {why}")

    def set_key(self, name: str) -> None:
        self.key = key_from_name(name) or int(Qt.Key_Space)
        self.set_status(self.window.speech_status)

    def audio_state(self, state: str) -> None:
        w = self.window
        w.speaking = state == "speaking"
        w.stop_button.setVisible(w.speaking or w._busy)
        if state == "transcribing":
            w.status_note.setText("recognising speech…")

    def playback_done(self, info: dict) -> None:
        w = self.window
        if info.get("end_to_audio_ms") is not None:
            w.last_timings["end_to_audio_ms"] = info["end_to_audio_ms"]
            w.status_timings.setText(w.status_timings.text() + f" · voice after {info['end_to_audio_ms']:.0f} ms")
        if info.get("reason") == "error" and info.get("error"):
            w.status_note.setText(f"could not speak: {info['error']}")

    def show_listening(self, on: bool) -> None:
        """The moment the key goes down: the button, the meter and the status say so."""
        w = self.window
        w.talk_button.setProperty("listening", on)
        w.talk_button.setText(" Listening… release to send" if on else IDLE_LABEL)
        w.talk_button.style().unpolish(w.talk_button)
        w.talk_button.style().polish(w.talk_button)
        w.level.setVisible(on)
        w.status_note.setText("listening…" if on else "")

    # -- press and release ------------------------------------------------------------------

    def press(self) -> None:
        if self.speech.recording:
            return
        self.window.worker.cancel.set()  # barge-in: stop the reply being written, too
        try:
            self.speech.start_take()
        except CompanionError as exc:
            self.last_error = str(exc)
            self.window.status_note.setText(str(exc))
            return
        self.show_listening(True)
        self.window.level.reset()
        self._level_timer.start()

    def release(self) -> None:
        if not self.speech.recording:
            return
        self._level_timer.stop()
        self.show_listening(False)
        try:
            audio = self.speech.end_take()
        except CompanionError as exc:
            self.last_error = str(exc)
            self.window.banner.show_error("The microphone stopped", str(exc))
            self.window.banner.retry_button.hide()
            return
        bubble = self.window.conversation.add("user", "")
        bubble.set_note("listening to what you said…")
        self.voice_bubbles.append(bubble)
        self.window.queue_pending(bubble)
        self.audio_ready.emit(audio)

    # -- the transcript ---------------------------------------------------------------------

    def heard(self, info: dict) -> None:
        if self.voice_bubbles:
            bubble = self.voice_bubbles.pop(0)
            bubble.set_text(info["text"])
            bubble.set_note(f"heard in {info['stt_ms']:.0f} ms")

    def not_heard(self, reason: str) -> None:
        if self.voice_bubbles:
            bubble = self.voice_bubbles.pop(0)
            self.window.forget_pending(bubble)
            self.window.conversation.remove(bubble)
        self.window.status_note.setText(reason)

    # -- the held key -----------------------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind in (QEvent.KeyPress, QEvent.KeyRelease) and event.key() == self.key:
            if not self._owns_key() or event.isAutoRepeat():
                return event.isAutoRepeat() and self.speech.recording
            if kind == QEvent.KeyPress:
                self.press()
            else:
                self.release()
            return True
        if kind == QEvent.WindowDeactivate and obj is self.window and self.speech.recording:
            self.release()  # the key-up would go to another window: end the take now
        return False

    def _owns_key(self) -> bool:
        """The key talks unless someone is typing, or a dialog has the focus."""
        if not self.available or not self.window.isActiveWindow():
            return False
        focus = QApplication.focusWidget()
        return not isinstance(focus, (QPlainTextEdit, QTextEdit, QLineEdit))

    def _poll_level(self) -> None:
        self.window.level.set_level(self.speech.level_dbfs)
