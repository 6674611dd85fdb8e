"""α on screen: three bars for the current reply, and α across the episode (QPainter)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

from companion.app import theme


class AlphaMeter(QWidget):
    """Bars for α_nova, α_sora, α_lumin; the chosen persona's row is bold."""

    ROW = 26

    def __init__(self, parent=None):
        super().__init__(parent)
        self.values: tuple[float, float, float] | None = None
        self.chosen: str | None = None
        self.setMinimumHeight(self.ROW * 3 + 4)

    def sizeHint(self) -> QSize:
        return QSize(220, self.ROW * 3 + 4)

    def set_alpha(self, alpha, chosen: str | None = None) -> None:
        self.values = tuple(float(v) for v in alpha) if alpha is not None else None
        self.chosen = chosen
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        label_w, value_w = 50, 40
        bar_x = label_w + 6
        bar_w = max(10, self.width() - bar_x - value_w - 6)
        font = QFont(self.font())
        for row, key in enumerate(theme.ORDER):
            persona = theme.PERSONAS[key]
            y = row * self.ROW + 2
            value = self.values[row] if self.values else 0.0
            font.setBold(key == self.chosen)
            p.setFont(font)
            p.setPen(QColor(theme.TEXT if key == self.chosen else theme.MUTED))
            p.drawText(QRectF(0, y, label_w, self.ROW - 6), Qt.AlignVCenter | Qt.AlignLeft, persona.name)
            track = QRectF(bar_x, y + 6, bar_w, self.ROW - 18)
            p.setPen(Qt.NoPen)
            p.setBrush(QColor("#ECEEF4"))
            p.drawRoundedRect(track, 4, 4)
            if self.values:
                fill = QRectF(track.x(), track.y(), max(track.height(), track.width() * value), track.height())
                color = QColor(persona.color)
                if key != self.chosen and self.chosen is not None:
                    color.setAlpha(150)
                p.setBrush(color)
                p.drawRoundedRect(fill, 4, 4)
            p.setPen(QColor(theme.TEXT if key == self.chosen else theme.MUTED))
            text = f"{value:.2f}" if self.values else "–"
            p.drawText(QRectF(bar_x + bar_w + 6, y, value_w, self.ROW - 6),
                       Qt.AlignVCenter | Qt.AlignRight, text)
        p.end()


class AlphaPlot(QWidget):
    """α of each reply in the episode, one line per tribe, newest on the right."""

    MAX_POINTS = 40

    def __init__(self, parent=None):
        super().__init__(parent)
        self.points: list[tuple[float, float, float]] = []
        self.setMinimumHeight(110)

    def sizeHint(self) -> QSize:
        return QSize(220, 120)

    def clear(self) -> None:
        self.points = []
        self.update()

    def add(self, alpha) -> None:
        self.points.append(tuple(float(v) for v in alpha))
        self.points = self.points[-self.MAX_POINTS:]
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        area = QRectF(4, 6, self.width() - 8, self.height() - 14)
        p.setPen(QPen(QColor(theme.LINE), 1))
        for frac in (0.0, 0.5, 1.0):
            y = area.bottom() - frac * area.height()
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        threshold_y = area.bottom() - 0.7 * area.height()  # the voice policy's 0.7 line
        p.setPen(QPen(QColor("#C9CEDA"), 1, Qt.DashLine))
        p.drawLine(QPointF(area.left(), threshold_y), QPointF(area.right(), threshold_y))
        if not self.points:
            p.setPen(QColor(theme.MUTED))
            p.drawText(area, Qt.AlignCenter, "α of each reply appears here")
            p.end()
            return
        n = len(self.points)
        step = area.width() / max(1, n - 1)
        for index, key in enumerate(theme.ORDER):
            color = QColor(theme.PERSONAS[key].color)
            path = QPainterPath()
            for i, alpha in enumerate(self.points):
                x = area.left() + (i * step if n > 1 else area.width() / 2)
                y = area.bottom() - alpha[index] * area.height()
                if i == 0:
                    path.moveTo(x, y)
                else:
                    path.lineTo(x, y)
            p.setPen(QPen(color, 2))
            p.setBrush(Qt.NoBrush)
            p.drawPath(path)
            p.setBrush(color)
            p.setPen(Qt.NoPen)
            last = self.points[-1]
            x = area.left() + ((n - 1) * step if n > 1 else area.width() / 2)
            p.drawEllipse(QPointF(x, area.bottom() - last[index] * area.height()), 3, 3)
        p.end()


class LevelMeter(QWidget):
    """The microphone's live input level while the talk key is held (dBFS, −60…0)."""

    FLOOR = -60.0

    def __init__(self, parent=None):
        super().__init__(parent)
        self.dbfs = self.FLOOR
        self.peak = self.FLOOR
        self.setFixedHeight(8)
        self.setMinimumWidth(120)
        self.setToolTip("microphone level")

    def set_level(self, dbfs: float) -> None:
        self.dbfs = max(self.FLOOR, min(0.0, float(dbfs)))
        # A peak that falls slowly, like a hardware meter: short syllables stay visible.
        self.peak = max(self.dbfs, self.peak - 1.5)
        self.update()

    def reset(self) -> None:
        self.dbfs = self.peak = self.FLOOR
        self.update()

    @property
    def fraction(self) -> float:
        return (self.dbfs - self.FLOOR) / -self.FLOOR

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor("#E3E6EE"))
        r = QRectF(0, 0, self.width(), self.height())
        p.drawRoundedRect(r, 4, 4)
        # Green for speech, amber near clipping.
        color = "#2BA36B" if self.dbfs < -6 else "#E6A23C"
        p.setBrush(QColor(color))
        p.drawRoundedRect(QRectF(0, 0, max(self.height(), r.width() * self.fraction), r.height()), 4, 4)
        x = r.width() * (self.peak - self.FLOOR) / -self.FLOOR
        p.setBrush(QColor(theme.TEXT))
        p.drawRect(QRectF(max(0.0, x - 2), 0, 2, r.height()))
