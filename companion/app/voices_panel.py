"""The Voices tab: per persona engine, voice model file, pitch, speed, volume, and a test button.

What is shown is the shipped profile with the user's overrides; Save writes only the keys that
differ from the shipped profile to <user config dir>/voices/<persona>.toml (voices.save_override).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget)

from companion.app import theme
from companion.errors import CompanionError
from companion.speech.voices import ENGINES, VoiceProfile, check_override, save_override

ENGINE_LABELS = {"piper": "Piper (neural, .onnx voice)", "espeak": "espeak-ng (built in)",
                 "coqui": "Coqui TTS (model folder)"}


class VoiceEditor(QGroupBox):
    """One persona's voice."""

    test_requested = Signal(str, object)

    def __init__(self, tribe: str, parent=None):
        persona = theme.PERSONAS[tribe]
        super().__init__(f"{persona.name} — {persona.blurb}", parent)
        self.tribe = tribe
        self.problem = ""
        form = QFormLayout(self)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(6)
        self.engine = QComboBox()
        for key in ENGINES:
            self.engine.addItem(ENGINE_LABELS[key], key)
        self.voice = QLineEdit()
        self.voice.setToolTip("espeak-ng: a language code (ro, en-us); Piper: the .onnx file "
                              "(its .onnx.json beside it)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.voice, 1)
        row.addWidget(browse)
        self.pitch = _factor(0.5, 2.0)
        self.speed = _factor(0.25, 4.0)
        self.volume = _factor(0.0, 2.0)
        factors = QHBoxLayout()
        factors.setSpacing(8)
        for label, box in (("pitch", self.pitch), ("speed", self.speed), ("volume", self.volume)):
            factors.addWidget(QLabel(label))
            factors.addWidget(box)
        factors.addStretch(1)
        self.test_button = QPushButton("▶ Test voice")
        self.test_button.setToolTip("hear a sample sentence with these values (not saved yet)")
        self.test_button.clicked.connect(self._test)
        engine_row = QHBoxLayout()
        engine_row.setSpacing(6)
        engine_row.addWidget(self.engine, 1)
        engine_row.addWidget(self.test_button)
        form.addRow("Engine", engine_row)
        form.addRow("Voice", row)
        form.addRow("", factors)
        self.variant = ""
        self.load()

    def load(self) -> None:
        try:
            profile = VoiceProfile.named(self.tribe)
        except CompanionError as exc:
            # A broken override file: show it, start from the shipped profile.
            self.problem = str(exc)
            profile = VoiceProfile.named(self.tribe, user_dir=Path("/nonexistent"))
        self.engine.setCurrentIndex(max(0, self.engine.findData(profile.engine)))
        self.voice.setText(profile.voice)
        self.pitch.setValue(profile.pitch)
        self.speed.setValue(profile.speed)
        self.volume.setValue(profile.volume)
        self.variant = profile.variant

    def values(self) -> dict:
        return {"engine": self.engine.currentData(), "voice": self.voice.text().strip(),
                "pitch": round(self.pitch.value(), 2), "speed": round(self.speed.value(), 2),
                "volume": round(self.volume.value(), 2)}

    def save(self) -> None:
        save_override(self.tribe, self.values())

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a voice model", self.voice.text(),
                                              "Voice models (*.onnx *.pth *.json);;All files (*)")
        if path:
            self.voice.setText(path)

    def _test(self) -> None:
        self.test_requested.emit(self.tribe, self.values())


class VoicesPanel(QWidget):
    test_requested = Signal(str, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 10, 10)
        layout.setSpacing(10)
        self.editors = {}
        for tribe in ("sora", "lumin", "nova"):
            editor = VoiceEditor(tribe)
            editor.test_requested.connect(self.test_requested)
            self.editors[tribe] = editor
            layout.addWidget(editor)
        problems = [e.problem for e in self.editors.values() if e.problem]
        if problems:
            warning = QLabel("\n".join(problems))
            warning.setWordWrap(True)
            warning.setStyleSheet(f"color: {theme.ERROR_FG};")
            layout.addWidget(warning)
        layout.addStretch(1)

    def save(self) -> None:
        """Validate every voice first, then write: a bad value saves nothing."""
        for editor in self.editors.values():
            check_override(editor.tribe, editor.values())
        for editor in self.editors.values():
            editor.save()


def _factor(lo: float, hi: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(0.05)
    box.setDecimals(2)
    return box
