"""The settings dialog: persona, style, generation, speech, voices, folders. Validated on Save."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget)

from companion.app import theme
from companion.app.talk import key_from_name
from companion.app.voices_panel import VoicesPanel
from companion.config import AppSettings
from companion.errors import CompanionError

PERSONA_LABELS = {
    "auto": "Auto — the model's α decides",
    "sora": "Sora — warm, poetic (Romanian)",
    "lumin": "Lumin — direct (English)",
    "nova": "NOVA — technical (Romanian)",
}
STYLE_LABELS = {"casual": "Casual", "technical": "Technical", "formal": "Formal"}


class SettingsDialog(QDialog):
    test_voice_requested = Signal(str, object)  # tribe, the profile values shown (not saved yet)
    rescan_requested = Signal()  # look for devices plugged in since the app started

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings — NOVA companion")
        self.setMinimumWidth(560)
        self._result: AppSettings | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(10)
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs)
        layout = _tab(self.tabs, "Conversation")

        persona_box = QGroupBox("Who answers")
        form = _form(persona_box)
        self.persona = QComboBox()
        for key, label in PERSONA_LABELS.items():
            self.persona.addItem(label, key)
        self.style = QComboBox()
        for key, label in STYLE_LABELS.items():
            self.style.addItem(label, key)
        form.addRow("Persona", self.persona)
        form.addRow("Style", self.style)
        layout.addWidget(persona_box)

        gen_box = QGroupBox("Generation")
        form = _form(gen_box)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setDecimals(2)
        self.temperature.setToolTip("0 = always the most likely word; higher = more surprising")
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 1000)
        self.top_k.setSpecialValueText("no limit")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.01)
        self.top_p.setDecimals(2)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 4096)
        self.question_weight = QDoubleSpinBox()
        self.question_weight.setRange(0.0, 5.0)
        self.question_weight.setSingleStep(0.5)
        self.question_weight.setDecimals(1)
        self.question_weight.setSpecialValueText("off")
        self.question_weight.setToolTip("how strongly each word is chosen for what your question adds, "
                                        "against the persona's usual phrases (0 = off; twice the "
                                        "work per word)")
        self.copy_weight = QDoubleSpinBox()
        self.copy_weight.setRange(0.0, 0.95)
        self.copy_weight.setSingleStep(0.05)
        self.copy_weight.setDecimals(2)
        self.copy_weight.setSpecialValueText("off")
        self.copy_weight.setToolTip("how much each word may follow the nearest answers the model knows "
                                    "(its knowledge.jsonl): more reads closer to them, 0 = the model alone")
        self.admit_unknown = QCheckBox("Say when it does not know")
        self.admit_unknown.setToolTip("when nothing it knows is near your words, answer that it does "
                                      "not know (NOVA) or ask you to say more (Sora), rather than "
                                      "copy the nearest answer to something else")
        self.word_guard = QCheckBox("Only known words")
        self.word_guard.setToolTip("the model may only spell words of its training text or of the "
                                   "conversation, never invented ones")
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-k", self.top_k)
        form.addRow("Top-p", self.top_p)
        form.addRow("Max tokens", self.max_tokens)
        form.addRow("Question focus", self.question_weight)
        form.addRow("Knowledge copying", self.copy_weight)
        form.addRow("", self.admit_unknown)
        form.addRow("", self.word_guard)
        layout.addWidget(gen_box)
        layout.addStretch(1)

        layout = _tab(self.tabs, "Speech")
        audio_box = QGroupBox("Microphone and speaker")
        form = _form(audio_box)
        self.input_device = _device_combo("input")
        self.output_device = _device_combo("output")
        self.speak_replies = QCheckBox("Speak the replies aloud")
        self.ptt_key = QLineEdit()
        self.ptt_key.setPlaceholderText("Space")
        self.ptt_key.setToolTip("a key name such as Space, F9 or Pause; it talks while held, "
                                "unless the text box has the focus")
        self.rescan = QPushButton("Rescan")
        self.rescan.setToolTip("look for microphones and speakers plugged in since the app started")
        self.rescan.clicked.connect(self._rescan)
        mic_row = QHBoxLayout()
        mic_row.setSpacing(6)
        mic_row.addWidget(self.input_device, 1)
        mic_row.addWidget(self.rescan)
        form.addRow("Microphone", mic_row)
        form.addRow("Speaker", self.output_device)
        form.addRow("", self.speak_replies)
        form.addRow("Push-to-talk key", self.ptt_key)
        layout.addWidget(audio_box)
        stt_box = QGroupBox("Speech recognition")
        form = _form(stt_box)
        self.stt_model = QComboBox()
        self.stt_model.setEditable(True)
        self.stt_model.addItem("base", "base")
        self.stt_model.addItem("tiny.en", "tiny.en")
        self.stt_model.setToolTip("base: Romanian and English; tiny.en: English only, faster; "
                                  "or the path of a faster-whisper model folder")
        self.stt_language = QComboBox()
        for key, label in (("auto", "Detect (a locked persona forces its language)"),
                           ("ro", "Romanian"), ("en", "English")):
            self.stt_language.addItem(label, key)
        form.addRow("Model", self.stt_model)
        form.addRow("Language", self.stt_language)
        layout.addWidget(stt_box)
        layout.addStretch(1)

        self.voices = VoicesPanel()
        self.voices.test_requested.connect(self.test_voice_requested)
        self.tabs.addTab(self.voices, "Voices")

        layout = _tab(self.tabs, "Folders")
        folder_box = QGroupBox("Folders")
        form = _form(folder_box)
        self.model_dir = QLineEdit()
        self.model_dir.setPlaceholderText("default: the current model version")
        self.data_dir = QLineEdit()
        self.data_dir.setPlaceholderText("default: the user data folder")
        form.addRow("Model folder", _with_browse(self.model_dir, self))
        form.addRow("Data folder", _with_browse(self.data_dir, self))
        layout.addWidget(folder_box)
        layout.addStretch(1)
        layout = outer

        self.problems = QLabel()
        self.problems.setObjectName("problems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(f"color: {theme.ERROR_FG}; background: {theme.ERROR_BG};"
                                    " border-radius: 8px; padding: 8px;")
        self.problems.hide()
        layout.addWidget(self.problems)

        note = QLabel("Persona, style, generation and voices apply to the next reply; a new "
                      "microphone, speaker, speech model, model or data folder is opened at once. "
                      "The conversation is kept.")
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {theme.MUTED}; font-size: 9pt;")
        layout.addWidget(note)

        self.buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Save).setObjectName("primary")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.show_settings(settings)

    def show_settings(self, s: AppSettings) -> None:
        self.persona.setCurrentIndex(self.persona.findData(s.persona_mode))
        self.style.setCurrentIndex(self.style.findData(s.style))
        self.temperature.setValue(s.temperature)
        self.top_k.setValue(s.top_k)
        self.top_p.setValue(s.top_p)
        self.max_tokens.setValue(s.max_tokens)
        self.word_guard.setChecked(s.word_guard)
        self.question_weight.setValue(s.question_weight)
        self.copy_weight.setValue(s.copy_weight)
        self.admit_unknown.setChecked(s.admit_unknown)
        self.model_dir.setText(s.model_dir)
        self.data_dir.setText(s.data_dir)
        _select(self.input_device, s.input_device)
        _select(self.output_device, s.output_device)
        self.speak_replies.setChecked(s.speak_replies)
        self.ptt_key.setText(s.ptt_key)
        _select(self.stt_model, s.stt_model)
        self.stt_language.setCurrentIndex(max(0, self.stt_language.findData(s.stt_language)))

    def settings(self) -> AppSettings:
        """What the form says, validated (CompanionError lists every problem)."""
        return AppSettings(
            persona_mode=self.persona.currentData(), style=self.style.currentData(),
            temperature=round(self.temperature.value(), 2), top_k=self.top_k.value(),
            top_p=round(self.top_p.value(), 2), max_tokens=self.max_tokens.value(),
            word_guard=self.word_guard.isChecked(), question_weight=round(self.question_weight.value(), 1),
            copy_weight=round(self.copy_weight.value(), 2), admit_unknown=self.admit_unknown.isChecked(),
            model_dir=self.model_dir.text().strip(), data_dir=self.data_dir.text().strip(),
            input_device=self.input_device.currentData() if self.input_device.currentIndex() >= 0 else "",
            output_device=self.output_device.currentData() if self.output_device.currentIndex() >= 0 else "",
            speak_replies=self.speak_replies.isChecked(), ptt_key=self.ptt_key.text().strip() or "Space",
            stt_model=_combo_value(self.stt_model), stt_language=self.stt_language.currentData(),
        )

    def _rescan(self) -> None:
        self.rescan.setEnabled(False)
        self.rescan.setText("Scanning…")
        self.rescan_requested.emit()

    def set_devices(self, listed: dict) -> None:
        """New device lists after a rescan; the current choices stay selected."""
        for combo, names in ((self.input_device, listed.get("inputs", [])),
                             (self.output_device, listed.get("outputs", []))):
            chosen = combo.currentData()
            _fill(combo, names)
            _select(combo, chosen or "")
        self.rescan.setEnabled(True)
        self.rescan.setText("Rescan")

    def result_settings(self) -> AppSettings | None:
        return self._result

    def accept(self) -> None:
        try:
            if key_from_name(self.ptt_key.text() or "Space") is None:
                raise CompanionError(f"invalid settings: {self.ptt_key.text()!r} is not a key name "
                                     f"(try Space, F9 or Pause)")
            self._result = self.settings()
            self.voices.save()
        except CompanionError as exc:
            text = str(exc).removeprefix("invalid settings: ")
            self.problems.setText("Please fix: " + text.replace("; ", ";\n"))
            self.problems.show()
            return
        super().accept()


def _tab(tabs: QTabWidget, title: str) -> QVBoxLayout:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(10, 12, 10, 10)
    layout.setSpacing(10)
    tabs.addTab(page, title)
    return layout


def _device_combo(kind: str) -> QComboBox:
    """System default + the devices PortAudio sees now (names are saved, not indexes)."""
    combo = QComboBox()
    names = []
    try:
        from companion.speech.devices import list_devices

        names = [d.name for d in list_devices() if (d.max_inputs if kind == "input" else d.max_outputs) > 0]
    except CompanionError as exc:
        combo.setToolTip(str(exc))
    _fill(combo, names)
    return combo


def _fill(combo: QComboBox, names: list[str]) -> None:
    combo.clear()
    combo.addItem("System default", "")
    for name in names:
        combo.addItem(name, name)


def _select(combo: QComboBox, value: str) -> None:
    """Select the item whose data is value; an unknown saved value is kept as an extra item."""
    index = combo.findData(value)
    if index < 0:
        combo.addItem(f"{value}  (not present now)" if not combo.isEditable() else value, value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


def _combo_value(combo: QComboBox) -> str:
    text = combo.currentText().strip()
    index = combo.findText(text)
    return combo.itemData(index) if index >= 0 and combo.itemData(index) else text


def _form(box: QGroupBox) -> QFormLayout:
    form = QFormLayout(box)
    form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
    form.setHorizontalSpacing(14)
    form.setVerticalSpacing(8)
    return form


def _with_browse(edit: QLineEdit, parent) -> QWidget:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(6)
    row.addWidget(edit, 1)
    button = QPushButton("Browse…")

    def browse():
        folder = QFileDialog.getExistingDirectory(parent, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)

    button.clicked.connect(browse)
    row.addWidget(button)
    return holder
