"""Small building blocks of the main window: the banner and the sidebar card."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from companion.app import theme


class Banner(QFrame):
    """A message across the top: loading (info, with a busy bar) or an error with what to do."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        row = QHBoxLayout(self)
        row.setContentsMargins(14, 10, 10, 10)
        row.setSpacing(10)
        col = QVBoxLayout()
        col.setSpacing(6)
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: 700;")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setFixedHeight(4)
        self.busy.setTextVisible(False)
        self.busy.setStyleSheet("QProgressBar { border: none; background: #DDE2F2; border-radius: 2px; }"
                                "QProgressBar::chunk { background: #1E9C9A; border-radius: 2px; }")
        col.addWidget(self.title)
        col.addWidget(self.text)
        col.addWidget(self.busy)
        row.addLayout(col, 1)
        self.settings_button = QPushButton("Open settings")
        self.retry_button = QPushButton("Retry")
        row.addWidget(self.retry_button, 0, Qt.AlignTop)
        row.addWidget(self.settings_button, 0, Qt.AlignTop)
        self.hide()

    def show_info(self, title: str, text: str, busy: bool = True) -> None:
        self._show("info", title, text)
        self.busy.setVisible(busy)
        self.settings_button.hide()
        self.retry_button.hide()

    def show_error(self, title: str, text: str) -> None:
        self._show("error", title, text)
        self.title.setStyleSheet(f"font-weight: 700; color: {theme.ERROR_FG};")
        self.busy.hide()
        self.settings_button.show()
        self.retry_button.show()

    def _show(self, kind: str, title: str, text: str) -> None:
        self.kind = kind
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.title.setStyleSheet("font-weight: 700;")
        self.title.setText(title)
        self.text.setText(text)
        self.show()


def card(title: str, widget: QWidget) -> QFrame:
    card = QFrame()
    card.setObjectName("card")
    col = QVBoxLayout(card)
    col.setContentsMargins(14, 12, 14, 12)
    col.setSpacing(8)
    label = QLabel(title)
    label.setObjectName("sectionTitle")
    col.addWidget(label)
    col.addWidget(widget)
    return card
