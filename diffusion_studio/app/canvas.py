"""Three linked image panes (x_t, predicted x0, predicted eps) with a value readout under the cursor.

pyqtgraph ``ImageItem``s in row-major order, one per ViewBox; the boxes copy each other's ranges, so zooming or
panning one moves all three. Frames arrive as uint8 with no levels set, which pyqtgraph hands to a QImage as they
are: a fixed 0..255 display range (no per-frame auto-levels flicker) and no per-frame rescaling cost. Setting an
image only marks the item dirty; rendering happens at paint time, so several updates between paints cost one.
Pixels are drawn without smoothing, so small images stay pixel-exact when zoomed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from diffusion_studio.app.readout import RawSource

PANES = 3
BACKGROUND = "#26282b"
IMAGE_RANGE = (-1.0, 1.0)
SPACING = 6
HIGHLIGHT = "#f2b233"
TITLE_HEIGHT = 26
HINT = "Hover a picture to read its values · scroll to zoom, drag to pan (all three panes move together)"


class PaneImage(pg.ImageItem):
    """An ImageItem that counts its paints (tests and the benchmark read ``paints``)."""

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.paints = 0

    def paint(self, painter, *args) -> None:  # noqa: D102 - Qt override
        super().paint(painter, *args)
        self.paints += 1


class PaneTitle(pg.LabelItem):
    """A centred heading that does not widen its column: the three panes keep equal widths whatever the text."""

    def updateMin(self) -> None:  # noqa: N802 - pyqtgraph override
        super().updateMin()
        height = self.itemRect().height()
        self.setMinimumWidth(0)
        self._sizeHint[Qt.SizeHint.MinimumSize] = (0, height)
        self._sizeHint[Qt.SizeHint.PreferredSize] = (0, height)
        self.updateGeometry()


class Canvas(QWidget):
    """The central picture: three panes side by side, their titles, and a readout line."""

    painted = Signal()
    hoverChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(BACKGROUND)
        self.view.ci.setSpacing(SPACING)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.titles: list[pg.LabelItem] = []
        self.boxes: list[pg.ViewBox] = []
        self.items: list[PaneImage] = []
        self._ranges: list[tuple[float, float]] = [IMAGE_RANGE] * PANES
        self._names: list[str] = ["xₜ", "pred. x₀", "pred. ε"]
        self._shape: tuple[int, ...] | None = None
        self._syncing = False
        self._hover: tuple[int, int] | None = None  # (row, col) of the pixel the readout describes
        self._raw: RawSource | None = None
        self.columns = PANES
        for i in range(PANES):
            title = PaneTitle(" ", color="#e8e8e8", size="11pt")
            self.view.addItem(title, row=0, col=i)
            self.titles.append(title)
            box = self.view.addViewBox(row=1, col=i, lockAspect=True, invertY=True, enableMenu=False)
            box.setDefaultPadding(0.01)
            item = PaneImage()
            box.addItem(item)
            box.sigRangeChanged.connect(self._on_range_changed)
            self.boxes.append(box)
            self.items.append(item)
            self.view.ci.layout.setColumnStretchFactor(i, 1)
        self.readout = QLabel(HINT)
        self.readout.setObjectName("readout")
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the window
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.readout)
        self.view.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # ----------------------------------------------------------------------------------------------- arrangement
    def best_columns(self, width: float, height: float) -> int:
        """How many panes side by side (3, 2 or 1) make the pictures largest in a ``width`` x ``height`` area.

        Three panes in a row suit a wide canvas; on a tall one two rows (2 + 1) use the height the panes have.
        Ties go to more columns, so the panes stay in one row unless another arrangement is clearly bigger.
        """
        h_img, w_img = self._shape if self._shape is not None else (1, 1)
        best, best_scale = PANES, 0.0
        for cols in range(PANES, 0, -1):
            rows = -(-PANES // cols)
            cell_w = (width - SPACING * (cols - 1)) / cols
            cell_h = (height - rows * TITLE_HEIGHT - SPACING * (2 * rows - 1)) / rows
            scale = min(cell_w / w_img, cell_h / h_img)
            if scale > best_scale * 1.25:
                best, best_scale = cols, scale
        return best

    def arrange(self, columns: int) -> None:
        """Lay the panes out ``columns`` to a row (their titles above them); the zoom is kept."""
        if columns == self.columns:
            return
        layout = self.view.ci
        for title, box in zip(self.titles, self.boxes, strict=True):
            layout.removeItem(title)
            layout.removeItem(box)
        for i, (title, box) in enumerate(zip(self.titles, self.boxes, strict=True)):
            row, col = divmod(i, columns)
            layout.addItem(title, row=2 * row, col=col)
            layout.addItem(box, row=2 * row + 1, col=col)
        for col in range(PANES):
            layout.layout.setColumnStretchFactor(col, 1 if col < columns else 0)
        for row in range(2 * PANES):
            layout.layout.setRowStretchFactor(row, 1 if row % 2 and row // 2 < -(-PANES // columns) else 0)
        self.columns = columns

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._rearrange()

    def _rearrange(self) -> None:
        height = self.height() - self.readout.sizeHint().height() - 2
        self.arrange(self.best_columns(self.width(), height))

    # ----------------------------------------------------------------------------------------------- content
    def set_titles(self, titles: Sequence[str], names: Sequence[str] | None = None,
                   tips: Sequence[str] | None = None) -> None:
        """Pane headings (rich text allowed); ``names`` are the short names used by the readout; ``tips`` the
        hover help of each pane (its title and its picture)."""
        for label, text in zip(self.titles, titles, strict=True):
            if label.text != text:  # re-laying out a label costs more than the check
                label.setText(text)
        for label, box, tip in zip(self.titles, self.boxes, tips or (), strict=False):
            if label.toolTip() != tip:
                label.setToolTip(tip)
                box.setToolTip(tip)
        if names is not None:
            self._names = list(names)

    def set_ranges(self, ranges: Sequence[tuple[float, float]]) -> None:
        """The value each pane's 0 and 255 stand for (x_t and x0: -1..1; eps: -3..3), for the readout."""
        self._ranges = list(ranges)

    def set_images(self, images: Sequence[np.ndarray | None]) -> None:
        """Show uint8 (H, W, C) pictures; None clears a pane. Re-fits the view when the size changes."""
        for item, image in zip(self.items, images, strict=True):
            self._set(item, image)
        shapes = [im.shape[:2] for im in images if im is not None]
        if shapes and shapes[0] != self._shape:
            self._shape = shapes[0]
            self._rearrange()
            self.reset_zoom()
        self._refresh_readout()

    def set_image(self, pane: int, image: np.ndarray | None) -> None:
        self._set(self.items[pane], image)

    def image(self, pane: int) -> np.ndarray | None:
        """What a pane shows now, as (H, W) or (H, W, 3) uint8."""
        return self.items[pane].image

    def reset_zoom(self) -> None:
        """Fit the whole picture in the panes, and keep fitting it as the window resizes until the person zooms.

        ``enableAutoRange`` (not ``autoRange``, which fits once and then switches auto-ranging off) lets pyqtgraph
        refit whenever the boxes change size, e.g. while the window is first laid out.
        """
        for box in self.boxes:
            box.enableAutoRange()

    def _on_range_changed(self, source: pg.ViewBox, ranges, *_) -> None:
        """Give every pane the range of the one that moved (the same picture region, not the same screen x).

        pyqtgraph's own ``setXLink`` aligns linked views by their screen position, which suits plots stacked
        one above the other but shifts panes that sit side by side; so the panes copy ranges themselves.
        """
        if self._syncing or any(source.autoRangeEnabled()):
            return
        self._syncing = True
        try:
            (x0, x1), (y0, y1) = ranges
            for box in self.boxes:
                if box is not source:
                    box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        finally:
            self._syncing = False

    def highlight(self, pane: int | None) -> None:
        """Outline one pane (a formula term under the mouse belongs to it); None clears the outline."""
        for i, box in enumerate(self.boxes):
            box.setBorder(pg.mkPen(HIGHLIGHT, width=3) if i == pane else None)

    @property
    def paints(self) -> int:
        return sum(item.paints for item in self.items)

    @staticmethod
    def _set(item: PaneImage, image: np.ndarray | None) -> None:
        if image is None:
            item.clear()
            return
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        item.setImage(image, autoLevels=False)

    # ----------------------------------------------------------------------------------------------- readout
    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        text = self.readout_at(scene_pos)
        self.readout.setText(text or HINT)
        self.hoverChanged.emit(text)

    def readout_at(self, scene_pos: QPointF) -> str:
        """'pixel (x, y)  xₜ = …  pred. x₀ = …  pred. ε = …' for the pixel under a scene position, or ''."""
        for box, item in zip(self.boxes, self.items, strict=True):
            if item.image is None or not box.sceneBoundingRect().contains(scene_pos):
                continue
            p = box.mapSceneToView(scene_pos)
            col, row = int(np.floor(p.x())), int(np.floor(p.y()))
            h, w = item.image.shape[:2]
            if 0 <= row < h and 0 <= col < w:
                self._hover = (row, col)
                return self.describe_pixel(row, col)
        self._hover = None
        return ""

    def describe_pixel(self, row: int, col: int) -> str:
        """The values at a pixel: raw ones where the view supplies them (:meth:`set_raw`), else read back from
        the picture, where a value at the end of the display range is shown as a bound (≥ +1.00)."""
        parts = [f"pixel ({col}, {row})"]
        raw = self._raw(row, col) if self._raw is not None else (None,) * PANES
        for name, item, (lo, hi), exact in zip(self._names, self.items, self._ranges, raw, strict=True):
            if item.image is None or row >= item.image.shape[0] or col >= item.image.shape[1]:
                continue
            if exact is not None:
                parts.append(f"{name} = " + " ".join(f"{v:+.2f}" for v in np.atleast_1d(exact)))
                continue
            codes = np.atleast_1d(item.image[row, col])
            values = codes.astype(np.float64) * ((hi - lo) / 255.0) + lo
            parts.append(f"{name} = " + " ".join(f"≤{lo:+.2f}" if c == 0 else f"≥{hi:+.2f}" if c == 255 else
                                                  f"{v:+.2f}" for c, v in zip(codes, values, strict=True)))
        return "    ".join(parts)

    def set_raw(self, source: RawSource | None) -> None:
        """Where the readout gets unclipped values, per pane (None: read them back from the pictures)."""
        self._raw = source
        self._refresh_readout()

    def _refresh_readout(self) -> None:
        """Keep the readout on the pixel last hovered as the pictures change (playhead, new picture, view)."""
        if self._hover is None:
            return
        row, col = self._hover
        shape = next((item.image.shape for item in self.items if item.image is not None), None)
        if shape is None or row >= shape[0] or col >= shape[1]:
            self._hover = None
            self.readout.setText(HINT)
            return
        self.readout.setText(self.describe_pixel(row, col))
