"""Colours, persona looks, icons and the application style sheet."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"


@dataclass(frozen=True)
class Persona:
    key: str
    name: str
    color: str  # accent: name, meter bar, plot line
    tint: str  # bubble background
    border: str
    blurb: str


PERSONAS: dict[str, Persona] = {
    "nova": Persona("nova", "NOVA", "#1E9C9A", "#EAF6F5", "#BFE3E0", "technical · Romanian"),
    "sora": Persona("sora", "Sora", "#E0607E", "#FDEEF0", "#F6C9D2", "warm · Romanian"),
    "lumin": Persona("lumin", "Lumin", "#2F8FDB", "#EAF4FD", "#C3DDF5", "direct · English"),
}
ORDER = ("nova", "sora", "lumin")  # the order of α everywhere
NOVA_VIOLET = "#7553D6"

BG = "#F4F5F9"
CARD = "#FFFFFF"
TEXT = "#1F2430"
MUTED = "#6B7385"
LINE = "#E3E6EE"
USER_TINT = "#E9ECF3"
ERROR_BG = "#FDECEC"
ERROR_FG = "#9B1C2C"


@lru_cache(maxsize=None)
def svg_pixmap(name: str, size: int) -> QPixmap:
    """An asset SVG rendered at size×size (a painted initial if the file is missing)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.Antialiasing)
    path = ASSETS / name
    renderer = QSvgRenderer(str(path)) if path.is_file() else None
    if renderer is not None and renderer.isValid():
        renderer.render(painter, QRectF(0, 0, size, size))
    else:
        persona = PERSONAS.get(Path(name).stem)
        painter.setBrush(QColor(persona.color if persona else MUTED))
        painter.setPen(Qt.NoPen)
        painter.drawEllipse(0, 0, size, size)
        painter.setPen(QColor("white"))
        font = QFont()
        font.setPixelSize(int(size * 0.5))
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(pixmap.rect(), Qt.AlignCenter, (persona.name if persona else "?")[0])
    painter.end()
    return pixmap


def avatar(key: str, size: int = 32) -> QPixmap:
    return svg_pixmap(f"personas/{key}.svg", size)


def app_icon() -> QIcon:
    icon = QIcon()
    for size in (16, 32, 64, 128, 256):
        icon.addPixmap(svg_pixmap("icon.svg", size))
    return icon


def _url(name: str) -> str:
    return (ASSETS / name).as_posix()


STYLE_SHEET = f"""
QMainWindow, QDialog {{ background: {BG}; }}
QWidget {{ color: {TEXT}; font-size: 10.5pt; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#sectionTitle {{ color: {MUTED}; font-size: 8.5pt; font-weight: 600; letter-spacing: 1px; }}
QFrame#card {{ background: {CARD}; border: 1px solid {LINE}; border-radius: 12px; }}
QFrame#composer {{ background: {CARD}; border-top: 1px solid {LINE}; }}
QScrollArea {{ border: none; background: {BG}; }}
QWidget#conversation {{ background: {BG}; }}
QPlainTextEdit#input {{
    background: {BG}; border: 1px solid {LINE}; border-radius: 10px; padding: 6px 8px;
}}
QPlainTextEdit#input:focus {{ border: 1px solid #9AA6C4; }}
QPushButton {{
    background: {CARD}; border: 1px solid {LINE}; border-radius: 8px; padding: 6px 14px;
}}
QPushButton:hover {{ background: #F0F2F8; }}
QPushButton:disabled {{ color: #A8AEBB; background: #F3F4F7; }}
QPushButton#primary {{
    background: qlineargradient(x1:0, y1:0, x2:1, y2:1, stop:0 #1E9C9A, stop:1 {NOVA_VIOLET});
    color: white; border: none; font-weight: 600; padding: 8px 20px;
}}
QPushButton#primary:disabled {{ background: #B9C0CF; }}
QPushButton#talk {{ border-radius: 20px; padding: 8px 16px; font-weight: 600; }}
QPushButton#talk[listening="true"] {{ background: #E0607E; color: white; border: none; }}
QToolButton {{ border: none; padding: 1px 2px; color: #B2B8C6; font-size: 12pt; }}
QToolButton:hover {{ color: #E6A23C; }}
QToolButton:checked {{ color: #E6A23C; }}
QFrame#banner {{ border-radius: 10px; }}
QFrame#banner[kind="error"] {{ background: {ERROR_BG}; border: 1px solid #F1B8BE; }}
QFrame#banner[kind="info"] {{ background: #EEF1FB; border: 1px solid #D4DAF0; }}
QStatusBar {{ background: {CARD}; border-top: 1px solid {LINE}; color: {MUTED}; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 6px; }}
QGroupBox {{ font-weight: 600; border: 1px solid {LINE}; border-radius: 10px; margin-top: 14px;
            padding: 10px 10px 6px 10px; background: {CARD}; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 12px; padding: 0 4px; color: {MUTED}; }}
QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox {{
    background: {CARD}; border: 1px solid {LINE}; border-radius: 6px; padding: 4px 6px; min-height: 20px;
}}
QLineEdit:focus, QComboBox:focus, QSpinBox:focus, QDoubleSpinBox:focus {{ border: 1px solid #9AA6C4; }}
QComboBox::drop-down {{ border: none; width: 24px; }}
QComboBox::down-arrow {{ image: url({_url("chevron-down.svg")}); width: 12px; height: 12px; }}
QComboBox QAbstractItemView {{ background: {CARD}; border: 1px solid {LINE}; selection-background-color: #E6EAF5;
                              selection-color: {TEXT}; }}
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{ border: none; width: 20px; background: transparent; }}
QAbstractSpinBox::up-button {{ subcontrol-origin: border; subcontrol-position: top right; }}
QAbstractSpinBox::down-button {{ subcontrol-origin: border; subcontrol-position: bottom right; }}
QAbstractSpinBox::up-arrow {{ image: url({_url("chevron-up.svg")}); width: 10px; height: 10px; }}
QAbstractSpinBox::down-arrow {{ image: url({_url("chevron-down.svg")}); width: 10px; height: 10px; }}
"""
