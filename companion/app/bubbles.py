"""The conversation: one bubble per message, persona name/colour/icon on replies."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

from companion.app import theme


class MessageBubble(QFrame):
    """A user message (right, neutral) or a reply (left, in its persona's colours)."""

    rated = Signal(int, int)  # message id, 1..5
    starred = Signal(int, bool)
    replayed = Signal(int)  # message id: speak it again

    def __init__(self, role: str, text: str = "", tribe: str | None = None,
                 message_id: int | None = None, ts: float | None = None, parent=None):
        super().__init__(parent)
        self.role = role
        self.tribe = tribe
        self.message_id = message_id
        self.rating = 0
        self.is_starred = False
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(10)

        self.avatar = QLabel()
        self.avatar.setFixedSize(34, 34)
        self.avatar.setAlignment(Qt.AlignTop)
        self.body = QFrame()
        self.body.setObjectName("bubbleBody")
        self.body.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.body.setMaximumWidth(self.TEXT_WIDTH + 40)
        col = QVBoxLayout(self.body)
        col.setContentsMargins(14, 9, 14, 9)
        col.setSpacing(4)

        head = QHBoxLayout()
        head.setSpacing(8)
        self.name = QLabel()
        self.when = QLabel(_clock(ts))
        self.when.setObjectName("muted")
        self.when.setStyleSheet(f"color: {theme.MUTED}; font-size: 8.5pt;")
        head.addWidget(self.name)
        head.addWidget(self.when)
        head.addStretch(1)
        col.addLayout(head)

        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.text.setStyleSheet("font-size: 11pt;")
        self._fit()
        col.addWidget(self.text)
        self.note = QLabel()  # "waiting for the model…", "not sent: …", "stopped"
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {theme.MUTED}; font-size: 8.5pt; font-style: italic;")
        self.note.hide()
        col.addWidget(self.note)

        self.actions = QWidget()
        row = QHBoxLayout(self.actions)
        row.setContentsMargins(0, 2, 0, 0)
        row.setSpacing(0)
        self.rate_buttons = []
        for value in range(1, 6):
            button = QToolButton()
            button.setText("★")
            button.setToolTip(f"rate this reply {value} of 5")
            button.setAccessibleName(f"rate {value}")
            button.clicked.connect(lambda _=False, v=value: self._rate(v))
            row.addWidget(button)
            self.rate_buttons.append(button)
        row.addSpacing(12)
        self.star_button = QToolButton()
        self.star_button.setText("Keep")
        self.star_button.setCheckable(True)
        self.star_button.setToolTip("keep this reply as a snapshot (it is remembered in later answers)")
        self.star_button.setStyleSheet("font-size: 9pt;")
        self.star_button.toggled.connect(self._star)
        row.addWidget(self.star_button)
        self.replay_button = QToolButton()
        self.replay_button.setText("▶ Play")
        self.replay_button.setToolTip("hear this reply again in its persona's voice")
        self.replay_button.setStyleSheet("font-size: 9pt;")
        self.replay_button.clicked.connect(self._replay)
        row.addWidget(self.replay_button)
        row.addStretch(1)
        col.addWidget(self.actions)

        if role == "user":
            outer.addStretch(1)
            outer.addWidget(self.body)
            outer.addWidget(self.avatar, 0, Qt.AlignTop)
            self.avatar.setPixmap(theme.avatar("user", 34))
            self.name.setText("You")
            self.name.setStyleSheet(f"font-weight: 600; color: {theme.MUTED};")
            self.body.setStyleSheet(
                f"QFrame#bubbleBody {{ background: {theme.USER_TINT}; border-radius: 14px; }}")
            self.actions.hide()
        else:
            outer.addWidget(self.avatar, 0, Qt.AlignTop)
            outer.addWidget(self.body)
            outer.addStretch(1)
            self.set_tribe(tribe or "nova")
            self.actions.setVisible(message_id is not None)

    def set_tribe(self, tribe: str) -> None:
        self.tribe = tribe
        persona = theme.PERSONAS.get(tribe, theme.PERSONAS["nova"])
        self.avatar.setPixmap(theme.avatar(persona.key, 34))
        self.name.setText(persona.name)
        self.name.setStyleSheet(f"font-weight: 700; color: {persona.color};")
        self.body.setStyleSheet(
            f"QFrame#bubbleBody {{ background: {persona.tint}; border: 1px solid {persona.border};"
            f" border-radius: 14px; }}")

    TEXT_WIDTH = 500

    def append(self, piece: str) -> None:
        self.set_text(self.text.text() + piece)

    def set_text(self, text: str) -> None:
        self.text.setText(text)
        self._fit()

    def _fit(self) -> None:
        # A word-wrapped QLabel asks for a narrow width; ask for the text's own width instead,
        # up to a comfortable line length, so short replies stay on one line.
        font = QFont(self.text.font())
        font.setPointSizeF(11)  # the style sheet's size; it is applied only when the label is polished
        metrics = QFontMetrics(font)
        longest = max((metrics.horizontalAdvance(line)
                       for line in self.text.text().splitlines() or [""]), default=0)
        self.text.setMinimumWidth(min(longest + 4, self.TEXT_WIDTH))

    def set_note(self, text: str, error: bool = False) -> None:
        self.note.setText(text)
        color = theme.ERROR_FG if error else theme.MUTED
        self.note.setStyleSheet(f"color: {color}; font-size: 8.5pt; font-style: italic;")
        self.note.setVisible(bool(text))

    def show_sources(self, questions: list[str], unsure: bool = False) -> None:
        """Say, on hover, which exchanges of the model's knowledge the reply could copy from, or
        that it knew nothing near (companion/memory/unsure.py)."""
        if unsure:
            self.body.setToolTip("Found nothing near this in what it knows, and said so\n"
                                 "(Settings → Generation → Say when it does not know)")
            return
        self.body.setToolTip("" if not questions else "Drew on what it knows, answers to:\n" + "\n".join(
            f"• {q[:120]}" for q in questions))

    def set_stored(self, message_id: int, ts: float | None = None) -> None:
        self.message_id = message_id
        self.set_note("")
        if ts is not None:
            self.when.setText(_clock(ts))
        if self.role == "assistant":
            self.actions.show()

    def show_rating(self, rating: int) -> None:
        self.rating = rating
        for value, button in enumerate(self.rate_buttons, start=1):
            color = "#E6A23C" if value <= rating else "#C4C9D4"
            button.setStyleSheet(f"color: {color};")

    def show_starred(self, on: bool) -> None:
        self.is_starred = on
        self.star_button.blockSignals(True)
        self.star_button.setChecked(on)
        self.star_button.setText("✓ Kept" if on else "Keep")
        self.star_button.blockSignals(False)

    def _rate(self, value: int) -> None:
        if self.message_id is not None:
            self.rated.emit(self.message_id, value)

    def _star(self, on: bool) -> None:
        if self.message_id is not None:
            self.starred.emit(self.message_id, on)

    def _replay(self) -> None:
        if self.message_id is not None:
            self.replayed.emit(self.message_id)


class ConversationView(QScrollArea):
    """A scrolling column of bubbles that follows the newest message."""

    rated = Signal(int, int)
    starred = Signal(int, bool)
    replayed = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        inner = QWidget()
        inner.setObjectName("conversation")
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(24, 18, 24, 18)
        self.column.setSpacing(14)
        self.placeholder = QLabel("Say something — or type it below.\n"
                                  "Sora, Lumin or NOVA will answer, as the model decides.")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setObjectName("muted")
        self.placeholder.setStyleSheet(f"color: {theme.MUTED}; font-size: 11pt; padding: 40px;")
        self.column.addWidget(self.placeholder)
        self.column.addStretch(1)
        self.setWidget(inner)
        self.bubbles: list[MessageBubble] = []
        self.verticalScrollBar().rangeChanged.connect(self._follow)
        self._stick = True

    def clear(self) -> None:
        for bubble in self.bubbles:
            bubble.setParent(None)
            bubble.deleteLater()
        self.bubbles = []
        self.placeholder.show()

    def add(self, role: str, text: str = "", tribe: str | None = None,
            message_id: int | None = None, ts: float | None = None) -> MessageBubble:
        bubble = MessageBubble(role, text, tribe, message_id, ts)
        bubble.rated.connect(self.rated)
        bubble.starred.connect(self.starred)
        bubble.replayed.connect(self.replayed)
        self.placeholder.hide()
        self.column.insertWidget(self.column.count() - 1, bubble)
        self.bubbles.append(bubble)
        self._stick = True
        return bubble

    def add_separator(self, text: str) -> None:
        label = QLabel(text)
        label.setAlignment(Qt.AlignCenter)
        label.setStyleSheet(f"color: {theme.MUTED}; font-size: 8.5pt; padding: 4px;")
        self.column.insertWidget(self.column.count() - 1, label)
        self.bubbles.append(label)  # cleared with the bubbles

    def remove(self, bubble: MessageBubble) -> None:
        if bubble in self.bubbles:
            self.bubbles.remove(bubble)
        bubble.setParent(None)
        bubble.deleteLater()
        if not self.bubbles:
            self.placeholder.show()

    def by_id(self, message_id: int) -> MessageBubble | None:
        for bubble in self.bubbles:
            if isinstance(bubble, MessageBubble) and bubble.message_id == message_id:
                return bubble
        return None

    def _follow(self, _min: int, maximum: int) -> None:
        if self._stick:
            QTimer.singleShot(0, lambda: self.verticalScrollBar().setValue(self.verticalScrollBar().maximum()))


def _clock(ts: float | None) -> str:
    if ts is None:
        return ""
    when = dt.datetime.fromtimestamp(ts)
    if when.date() == dt.date.today():
        return when.strftime("%H:%M")
    return when.strftime("%d %b %H:%M")
