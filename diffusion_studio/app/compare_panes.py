"""Runs side by side on one playhead: one QWidget that paints every run's panes straight from uint8 arrays.

Each run is a block (its label and model calls on top, then one picture per pane: x_t, x0-hat, eps-hat, and the
difference to the reference run if asked); blocks sit in rows of ``columns``. A playhead move costs one paint of
small QImages wrapping the recorded arrays (no copies, no scene graph), drawn without smoothing so pixels stay
sharp: 4 runs x 3 panes of 64x64 paint in well under a frame (benchmarks/bench_compare_scrub.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from diffusion_studio.io.frames import DERIVED_PANELS
from diffusion_studio.session.compare import RunGroup, difference_map
from diffusion_studio.session.filmstrip import DEFAULT_TOLERANCE, Filmstrip, filmstrip, strip_pictures
from diffusion_studio.session.run import RecordedStep, Run
from diffusion_studio.session.third_pane import pane_picture

BACKGROUND = QColor("#26282b")
TEXT = QColor("#e8e8e8")
GAP = 6
PANE_TITLES = {"x_t": "xₜ", "x0": "predicted x₀", "eps": "predicted ε", "v": "predicted v", "flow": "flow velocity",
               "diff": "|x₀ − run {ref}'s|"}
Extra = tuple[str, Callable[[int], np.ndarray]]  # (title, t -> (H, W, 3) uint8): a block after the runs


def to_qimage(picture: np.ndarray) -> QImage:
    """Wrap an (H, W, 1) or (H, W, 3) contiguous uint8 array (no copy: keep the array alive while painting)."""
    h, w, c = picture.shape
    fmt = QImage.Format.Format_Grayscale8 if c == 1 else QImage.Format.Format_RGB888
    return QImage(picture.data, w, h, picture.strides[0], fmt)


class ComparePanes(QWidget):
    """Paints a :class:`RunGroup` at one playhead position; ``paints`` counts paints (for tests and benchmarks)."""

    painted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group: RunGroup | None = None
        self.panes: tuple[str, ...] = ("x_t", "x0", "eps")
        self.columns: int | None = None
        self.extras: list[Extra] = []
        self.t = 0
        self.paints = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)

    def set_group(self, group: RunGroup | None, panes: Sequence[str] = ("x_t", "x0", "eps"),
                  columns: int | None = None, extras: Sequence[Extra] = ()) -> None:
        self.group, self.panes, self.columns, self.extras = group, tuple(panes), columns, list(extras)
        self.update()

    def set_t(self, t: int) -> None:
        if t != self.t:
            self.t = t
            self.update()

    def _blocks(self) -> list[tuple[str, list[np.ndarray]]]:
        assert self.group is not None
        frames = self.group.frames_at(self.t)
        ref = frames[self.group.reference]
        blocks = []
        for run, frame in zip(self.group.runs, frames, strict=True):
            title = f"{run.label}\n{run.model_calls} calls"  # short: pictures can be narrow; the status line names them
            blocks.append((title, [] if frame is None else [_pane(frame, ref, p) for p in self.panes]))
        for title, make in self.extras:
            blocks.append((title, [make(self.t)]))
        return blocks

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self.group is not None and self.group.runs:
            self._paint_blocks(painter, self._blocks())
        painter.end()
        self.paints += 1
        self.painted.emit()

    def _paint_blocks(self, painter: QPainter, blocks: list[tuple[str, list[np.ndarray]]]) -> None:
        """Blocks in rows of ``columns``; each block: its title, then its pictures one under the other, with
        the pane names in a left margin."""
        metrics = painter.fontMetrics()
        cols = min(len(blocks), self.columns or len(blocks))
        rows = math.ceil(len(blocks) / cols)
        line = 2 * metrics.height()  # the run's label, then its model calls
        per_block = max(len(self.panes), 1)
        ref = self.group.reference + 1 if self.group is not None else 1
        titles = [PANE_TITLES.get(p, p).format(ref=ref) for p in self.panes]
        legend = max(metrics.horizontalAdvance(title) for title in titles) + 2 * GAP
        width, height = self.width() - legend, self.height()
        side = min((width - GAP * (cols + 1)) / cols,
                   (height - rows * (line + GAP) - GAP * (rows * per_block + 1)) / (rows * per_block))
        side = max(int(side), 8)
        block_w, block_h = side, line + GAP + per_block * (side + GAP)
        left = legend + (width - cols * block_w - (cols - 1) * GAP) // 2
        painter.setPen(TEXT)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r in range(rows):
            y = GAP + r * block_h + line + GAP
            for title in titles:
                painter.drawText(QRectF(left - legend, y, legend - GAP, side), right, title)
                y += side + GAP
        for k, (title, pictures) in enumerate(blocks):
            r, c = divmod(k, cols)
            x, y = left + c * (block_w + GAP), GAP + r * block_h
            elide = Qt.TextElideMode.ElideRight
            text = "\n".join(metrics.elidedText(part, elide, block_w) for part in title.split("\n"))
            painter.drawText(QRectF(x, y, block_w, line), Qt.AlignmentFlag.AlignCenter, text)
            y += line + GAP
            for picture in pictures:
                painter.drawImage(QRectF(x, y, side, side), to_qimage(picture))
                y += side + GAP


def _pane(frame: RecordedStep, ref: RecordedStep | None, pane: str) -> np.ndarray:
    if pane == "diff":
        return difference_map(frame.x0, frame.x0 if ref is None else ref.x0)
    if pane in DERIVED_PANELS:  # v-hat or the flow velocity, from the run's x0 and eps pictures
        return pane_picture(frame, pane)
    return {"x_t": frame.x_t, "x0": frame.x0, "eps": frame.eps}[pane]


class FilmstripView(QWidget):
    """One run's x0 filmstrip (session.filmstrip): x0-hat at evenly spaced steps, the decision step framed in red."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.strip: Filmstrip | None = None
        self._pictures: list[np.ndarray] = []
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_run(self, run: Run | None, count: int = 10, tolerance: float = DEFAULT_TOLERANCE) -> None:
        """Show ``run``'s strip (nothing for a run that has not finished)."""
        self.strip = filmstrip(run, count, tolerance) if run is not None and run.finished else None
        self._pictures = strip_pictures(self.strip) if self.strip is not None else []
        self.setToolTip("" if self.strip is None else
                        f"Predicted x₀ over the run; red: the decision step (t = {self.strip.decision.t}), the "
                        f"first from which x₀ stays within {self.strip.tolerance:g} (RMS) of the finished picture")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self.strip is not None:
            line = painter.fontMetrics().height()
            n = len(self._pictures)
            side = int(min((self.width() - GAP * (n + 1)) / n, self.height() - line - 2 * GAP))
            painter.setPen(TEXT)
            for k, (picture, label) in enumerate(zip(self._pictures, self.strip.labels(), strict=True)):
                x = GAP + k * (side + GAP)
                painter.drawImage(QRectF(x, GAP, side, side), to_qimage(picture))
                painter.drawText(QRectF(x - GAP, GAP + side, side + 2 * GAP, line), Qt.AlignmentFlag.AlignCenter,
                                 painter.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, side + 2 * GAP))
        painter.end()
