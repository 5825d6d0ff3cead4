"""The trajectory lens panel: x_t and x0-hat of the run on their first two principal components.

Fitted once per run (:func:`diffusion_studio.core.lens_trajectory.trajectory_pca`); the playhead moves a marker.
A move changes nothing else: the marker is one point at the origin of its own item, moved with ``setPos`` (no new
scatter data), the paths are drawn once into a device-coordinate cache and the views do not rescale.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QWidget

from diffusion_studio.core.lens_trajectory import TrajectoryPCA

PLOT_MIN_WIDTH = 300  # px: axes, labels and a readable plot area
COLOURS = {"x_t": "#3d8fe0", "x0": "#ff8c1a"}
MAX_DOTS = 200  # a dot per step up to this many steps (longer paths: the line alone, cheaper to draw after a run)


class TrajectoryPanel(QWidget):
    """Two plots side by side, the x_t path and the x0-hat path (each in its own PCA), with a marker on each."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plots: dict[str, pg.PlotWidget] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.markers: dict[str, pg.ScatterPlotItem] = {}
        for key in ("x_t", "x0"):
            plot = pg.PlotWidget(background="w")
            plot.setMinimumWidth(PLOT_MIN_WIDTH)  # narrower, pyqtgraph cuts the plot's right edge off
            plot.setLabel("bottom", "PC 1")
            plot.setLabel("left", "PC 2")
            for side in ("bottom", "left"):
                plot.getAxis(side).enableAutoSIPrefix(False)
            self.plots[key] = plot
            self.curves[key] = plot.plot(pen=pg.mkPen(COLOURS[key], width=2), symbol="o", symbolSize=4,
                                         symbolBrush=COLOURS[key], symbolPen=None)
            cache_static(self.curves[key])
            self.markers[key] = marker(COLOURS[key], 14)
            plot.addItem(self.markers[key])
            layout.addWidget(plot)
        self.coords: dict[str, np.ndarray] = {}

    def set_trajectories(self, fits: dict[str, TrajectoryPCA] | None) -> None:
        """``fits`` maps "x_t" and "x0" to a one-run PCA; None clears the plots."""
        self.coords = {}
        for key, curve in self.curves.items():
            pca = (fits or {}).get(key)
            name = "xₜ" if key == "x_t" else "predicted x₀"
            if pca is None:
                self.plots[key].enableAutoRange()
                curve.setData([], [])
                self.markers[key].hide()
                self.plots[key].setTitle(f"{name} path")
                continue
            xy = pca.coords[0]
            y = xy[:, 1] if xy.shape[1] > 1 else np.zeros(len(xy))
            self.coords[key] = np.column_stack([xy[:, 0], y])
            curve.setSymbol("o" if len(xy) <= MAX_DOTS else None)  # a long run's dots would merge into the line
            curve.setData(xy[:, 0], y)
            self.plots[key].autoRange()
            self.plots[key].disableAutoRange()  # the marker moves on a fixed view: no re-layout per playhead move
            self.plots[key].setTitle(f"{name} path (PC 1: {pca.explained[0]:.0%})")

    def mark(self, index: int) -> None:
        """Put the markers on step ``index`` of the run."""
        for key, xy in self.coords.items():
            i = int(np.clip(index, 0, len(xy) - 1))
            self.markers[key].setPos(float(xy[i, 0]), float(xy[i, 1]))
            self.markers[key].show()

    def marker_position(self, key: str) -> tuple[float, float] | None:
        """Where the marker of ``key`` ("x_t" or "x0") is, in PCA coordinates; None while it is hidden."""
        item = self.markers[key]
        return (item.pos().x(), item.pos().y()) if item.isVisible() else None


def marker(colour: str, size: int) -> pg.ScatterPlotItem:
    """A big dot that moves with ``setPos``: one spot at its item's origin, hidden until placed."""
    item = pg.ScatterPlotItem([0.0], [0.0], size=size, brush=pg.mkBrush(colour), pen=pg.mkPen("k", width=2))
    item.hide()
    return item


def cache_static(item: pg.PlotDataItem) -> None:
    """Draw a curve that stays put while the playhead moves from a pixmap cache (Qt redraws it only when its data
    or the view changes), so repainting the strip a moving marker uncovers does not redraw the whole path."""
    for part in (item.curve, item.scatter):
        part.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
