"""The window's right-hand column: brand, who is answering, α meter and plot, episode buttons."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from companion.app import theme
from companion.app.meters import AlphaMeter, AlphaPlot
from companion.app.widgets import card


class Sidebar(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("side")
        self.setFixedWidth(270)
        self.setStyleSheet(f"QFrame#side {{ background: {theme.BG}; border-left: 1px solid {theme.LINE}; }}")
        col = QVBoxLayout(self)
        col.setContentsMargins(14, 14, 14, 14)
        col.setSpacing(12)
        brand = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(theme.svg_pixmap("icon.svg", 36))
        name = QLabel("NOVA companion")
        name.setStyleSheet("font-size: 13pt; font-weight: 700;")
        brand.addWidget(logo)
        brand.addWidget(name, 1)
        col.addLayout(brand)

        persona = QWidget()
        row = QHBoxLayout(persona)
        row.setContentsMargins(0, 0, 0, 0)
        self.persona_icon = QLabel()
        self.persona_name = QLabel()
        self.persona_blurb = QLabel()
        self.persona_blurb.setObjectName("muted")
        names = QVBoxLayout()
        names.setSpacing(0)
        names.addWidget(self.persona_name)
        names.addWidget(self.persona_blurb)
        row.addWidget(self.persona_icon)
        row.addLayout(names, 1)
        col.addWidget(card("ANSWERING", persona))
        self.meter = AlphaMeter()
        col.addWidget(card("α · THIS REPLY", self.meter))
        self.plot = AlphaPlot()
        col.addWidget(card("α · THIS EPISODE", self.plot))
        col.addStretch(1)
        self.new_button = QPushButton("New episode")
        self.new_button.setToolTip("start a fresh chapter; everything said stays in memory")
        self.settings_button = QPushButton("Settings…")
        col.addWidget(self.new_button)
        col.addWidget(self.settings_button)
        self.show_persona(None, "auto")

    def show_persona(self, tribe: str | None, mode: str) -> None:
        """The persona of the last reply; before any, Auto or the locked one."""
        persona = theme.PERSONAS.get(tribe) if tribe else None
        if persona is None:
            self.persona_icon.setPixmap(theme.svg_pixmap("icon.svg", 40))
            self.persona_name.setText("Auto" if mode == "auto" else theme.PERSONAS[mode].name)
            self.persona_name.setStyleSheet("font-size: 12pt; font-weight: 700;")
            self.persona_blurb.setText("α picks the voice" if mode == "auto" else "locked in Settings")
            return
        self.persona_icon.setPixmap(theme.avatar(persona.key, 40))
        self.persona_name.setText(persona.name)
        self.persona_name.setStyleSheet(f"font-size: 12pt; font-weight: 700; color: {persona.color};")
        self.persona_blurb.setText(persona.blurb)
