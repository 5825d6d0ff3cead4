"""The compare window's step placement: each run's model calls as its own labelled row on one log-SNR axis.

lambda = log(abar / (1 - abar)) rises from the noisy left to the clean right, as on the main window's timeline;
the calls come from :func:`diffusion_studio.core.placement.step_placement` (Heun's second calls in orange, under
the blue step ticks). A red line follows the shared playhead, at lambda of its t on the finest run's schedule (the
schedule the playhead's t belongs to); the finished pictures (lambda = +inf) sit at the right edge.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from diffusion_studio.app.timeline import ACCENT, CORRECTION_COLOUR, nice_values, pixel_runs, signed
from diffusion_studio.core.placement import CallKind, Placement, step_placement
from diffusion_studio.errors import StudioError

ROW = 18  # pixels per run
PLAYHEAD = QColor("#e0563d")


class StepRows(QWidget):
    """One row of model-call ticks per run of a :class:`RunGroup`, on a shared log-SNR axis."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, Placement]] = []
        self._table: np.ndarray | None = None  # lambda_t of the playhead's schedule
        self._lam: float | None = None  # the playhead's lambda (+inf: the finished pictures)
        self._range = (0.0, 1.0)
        self._cache: tuple[tuple, QPixmap | None] = ((), None)  # everything but the playhead, drawn once
        self._rows_key = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Where each run calls the model on the log-SNR axis λ = log(ᾱ/(1−ᾱ)): blue, its steps; "
                        "orange, Heun's second calls. Noise on the left, clean on the right; red, the playhead.")
        self.setVisible(False)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(600, self._height())

    def _height(self) -> int:
        fh = self.fontMetrics().height()
        return fh + 6 + ROW * max(1, len(self.rows)) + fh + 6

    def set_group(self, group) -> None:
        """Show the runs of ``group`` (a :class:`RunGroup`; None hides the rows)."""
        self.rows, self._table = [], None
        if group is not None and group.runs:
            for i, run in enumerate(group.runs):
                try:
                    placement = step_placement(run.prepared.plan, run.prepared.schedule)
                except StudioError:
                    continue
                self.rows.append((run.label or f"run {i + 1}", placement))
            self._table = np.asarray(group.finest().prepared.schedule.log_snr, dtype=np.float64)
        values = [p.log_snr for _, p in self.rows] + ([self._table] if self._table is not None else [])
        finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
        self._range = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        self._rows_key += 1
        self.setVisible(bool(self.rows))
        self.setFixedHeight(self._height())
        self.update()

    def set_t(self, t: int) -> None:
        """Put the playhead at lambda_t (t < 0: the finished pictures, at the right edge)."""
        table = self._table
        lam = None if table is None else (math.inf if t < 0 else float(table[min(t, len(table) - 1)]))
        if lam != self._lam:
            self._lam = lam
            self.update()

    # ----------------------------------------------------------------------------------------------- geometry
    def _plot_rect(self) -> QRectF:
        fm = self.fontMetrics()
        label_w = max([fm.horizontalAdvance(label) for label, _ in self.rows] + [40]) + 12
        top = fm.height() + 6
        return QRectF(label_w, top, max(1, self.width() - label_w - 12), ROW * max(1, len(self.rows)))

    def x_of(self, lam: float) -> float:
        """Where a log-SNR sits (+inf at the right edge)."""
        rect = self._plot_rect()
        lo, hi = self._range
        if math.isinf(lam):
            return rect.right() if lam > 0 else rect.left()
        return rect.left() + (lam - lo) / ((hi - lo) or 1.0) * rect.width()

    # ----------------------------------------------------------------------------------------------- painting
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        """The cached rows, then the playhead: a move repaints one line, not a thousand ticks per run."""
        p = QPainter(self)
        p.drawPixmap(0, 0, self._background())
        if self._lam is not None:
            rect = self._plot_rect()
            x = self.x_of(self._lam)
            p.setPen(QPen(PLAYHEAD, 2))
            p.drawLine(QPointF(x, rect.top() - 2), QPointF(x, rect.bottom() + 2))
        p.end()

    def _background(self) -> QPixmap:
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), ratio, self._rows_key, self.palette().cacheKey(), self.font().key())
        if self._cache[0] == key:
            return self._cache[1]
        pixmap = QPixmap(round(self.width() * ratio), round(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        p = QPainter(pixmap)
        p.setFont(self.font())
        self._paint_rows(p)
        p.end()
        self._cache = (key, pixmap)
        return pixmap

    def _columns(self, lams: np.ndarray) -> list[tuple[int, int]]:
        """Pixel columns (two wide) of log-SNRs as (first, last) runs."""
        xs = np.round([self.x_of(float(v)) for v in lams]).astype(int)
        return pixel_runs(np.unique(np.concatenate([xs - 1, xs])))

    def _paint_rows(self, p: QPainter) -> None:
        pal = self.palette()
        text, mid = pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Mid)
        fm = self.fontMetrics()
        rect = self._plot_rect()
        p.setPen(text)
        p.drawText(QPointF(rect.left(), fm.ascent() + 2), "Model calls on the log-SNR axis λ = log(ᾱ/(1−ᾱ)):  "
                   "← noise · clean →")
        lo, hi = self._range
        for v in nice_values(lo, hi, max(1, min(8, int(rect.width() // 60)))):
            x = self.x_of(v)
            p.setPen(QPen(mid, 1, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            label = signed(v)
            p.setPen(text)
            p.drawText(QPointF(x - fm.horizontalAdvance(label) / 2, rect.bottom() + fm.ascent() + 3), label)
        for i, (label, placement) in enumerate(self.rows):
            top = rect.top() + i * ROW
            p.setPen(text)
            p.drawText(QPointF(rect.left() - 8 - fm.horizontalAdvance(label), top + (ROW + fm.ascent()) / 2 - 2),
                       label)
            p.setPen(QPen(mid, 1))
            p.drawLine(QPointF(rect.left(), top + ROW / 2), QPointF(rect.right(), top + ROW / 2))
            first = placement.mask(CallKind.STEP)
            for left, right in self._columns(placement.log_snr[first]):
                p.fillRect(QRectF(left, top + 2, right - left + 1, ROW / 2), ACCENT)
            for left, right in self._columns(placement.log_snr[~first]):
                p.fillRect(QRectF(left, top + ROW / 2 + 2, right - left + 1, ROW / 2 - 4), CORRECTION_COLOUR)
