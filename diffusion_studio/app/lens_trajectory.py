"""The trajectory lens panel: x_t and x0-hat of the run on their first two principal components.

Fitted once per run (:func:`diffusion_studio.core.lens_trajectory.trajectory_pca`); the playhead moves a marker.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget

from diffusion_studio.core.lens_trajectory import TrajectoryPCA

COLOURS = {"x_t": "#3d8fe0", "x0": "#ff8c1a"}


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
            plot.setLabel("bottom", "PC 1")
            plot.setLabel("left", "PC 2")
            for side in ("bottom", "left"):
                plot.getAxis(side).enableAutoSIPrefix(False)
            self.plots[key] = plot
            self.curves[key] = plot.plot(pen=pg.mkPen(COLOURS[key], width=2), symbol="o", symbolSize=4,
                                         symbolBrush=COLOURS[key], symbolPen=None)
            self.markers[key] = pg.ScatterPlotItem(size=14, brush=pg.mkBrush(COLOURS[key]), pen=pg.mkPen("k", width=2))
            plot.addItem(self.markers[key])
            layout.addWidget(plot)
        self.coords: dict[str, np.ndarray] = {}

    def set_trajectories(self, fits: dict[str, TrajectoryPCA] | None) -> None:
        """``fits`` maps "x_t" and "x0" to a one-run PCA; None clears the plots."""
        self.coords = {}
        for key, curve in self.curves.items():
            pca = (fits or {}).get(key)
            name = "x_t" if key == "x_t" else "x0-hat"
            if pca is None:
                self.plots[key].enableAutoRange()
                curve.setData([], [])
                self.markers[key].setData([], [])
                self.plots[key].setTitle(f"{name} path")
                continue
            xy = pca.coords[0]
            y = xy[:, 1] if xy.shape[1] > 1 else np.zeros(len(xy))
            self.coords[key] = np.column_stack([xy[:, 0], y])
            curve.setData(xy[:, 0], y)
            self.plots[key].autoRange()
            self.plots[key].disableAutoRange()  # the marker moves on a fixed view: no re-layout per playhead move
            self.plots[key].setTitle(f"{name} path (PC 1: {pca.explained[0]:.0%})")

    def mark(self, index: int) -> None:
        """Put the markers on step ``index`` of the run."""
        for key, xy in self.coords.items():
            i = int(np.clip(index, 0, len(xy) - 1))
            self.markers[key].setData([xy[i, 0]], [xy[i, 1]])
