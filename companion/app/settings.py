"""The settings dialog: persona, style, generation, folders. Validated before it closes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from companion.app import theme
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
    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings — NOVA companion")
        self.setMinimumWidth(520)
        self._result: AppSettings | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(10)

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
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-k", self.top_k)
        form.addRow("Top-p", self.top_p)
        form.addRow("Max tokens", self.max_tokens)
        layout.addWidget(gen_box)

        folder_box = QGroupBox("Folders")
        form = _form(folder_box)
        self.model_dir = QLineEdit()
        self.model_dir.setPlaceholderText("default: the current model version")
        self.data_dir = QLineEdit()
        self.data_dir.setPlaceholderText("default: the user data folder")
        form.addRow("Model folder", _with_browse(self.model_dir, self))
        form.addRow("Data folder", _with_browse(self.data_dir, self))
        layout.addWidget(folder_box)

        self.problems = QLabel()
        self.problems.setObjectName("problems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(f"color: {theme.ERROR_FG}; background: {theme.ERROR_BG};"
                                    " border-radius: 8px; padding: 8px;")
        self.problems.hide()
        layout.addWidget(self.problems)

        note = QLabel("Persona, style and generation apply to the next reply. "
                      "A new model or data folder is loaded at once; the conversation is kept.")
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
        self.model_dir.setText(s.model_dir)
        self.data_dir.setText(s.data_dir)

    def settings(self) -> AppSettings:
        """What the form says, validated (CompanionError lists every problem)."""
        return AppSettings(
            persona_mode=self.persona.currentData(), style=self.style.currentData(),
            temperature=round(self.temperature.value(), 2), top_k=self.top_k.value(),
            top_p=round(self.top_p.value(), 2), max_tokens=self.max_tokens.value(),
            model_dir=self.model_dir.text().strip(), data_dir=self.data_dir.text().strip(),
        )

    def result_settings(self) -> AppSettings | None:
        return self._result

    def accept(self) -> None:
        try:
            self._result = self.settings()
        except CompanionError as exc:
            text = str(exc).removeprefix("invalid settings: ")
            self.problems.setText("Please fix: " + text.replace("; ", ";\n"))
            self.problems.show()
            return
        super().accept()


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
