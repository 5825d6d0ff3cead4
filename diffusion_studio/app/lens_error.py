"""The error lens panel: per step, the RMS distance of x0-hat and x_t from the fine reference run (log-log).

See :mod:`diffusion_studio.core.lens_error`; the marker follows the playhead (moved with ``setPos`` over cached
curves, as in :mod:`diffusion_studio.app.lens_trajectory`).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from diffusion_studio.app.lens_trajectory import PLOT_MIN_WIDTH, cache_static, marker
from diffusion_studio.core.lens_error import ErrorCurve

COLOURS = {"x0": "#ff8c1a", "x_t": "#3d8fe0"}
FLOOR = 1e-7  # a zero error (the shared start) has no place on a log axis


class ErrorPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumWidth(PLOT_MIN_WIDTH)  # narrower, pyqtgraph cuts the plot's right edge off
        self.plot.setLogMode(x=True, y=True)
        self.plot.getViewBox().invertX(True)  # noise falls to the right, as the run goes
        for side in ("bottom", "left"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.plot.setLabel("bottom", "σ of the step")
        self.plot.setLabel("left", "RMS error vs reference")
        self.plot.addLegend(offset=(-10, -10), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 215))
        self.curves = {
            "x0": self.plot.plot(pen=pg.mkPen(COLOURS["x0"], width=2), symbol="o", symbolSize=4, name="pred. x₀"),
            "x_t": self.plot.plot(pen=pg.mkPen(COLOURS["x_t"], width=1, style=Qt.PenStyle.DashLine), name="xₜ"),
        }
        for curve in self.curves.values():
            cache_static(curve)
        self.marker = marker(COLOURS["x0"], 12)
        self.plot.addItem(self.marker)
        self.plot.setTitle("error vs reference: computed after the run")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.curve: ErrorCurve | None = None

    def set_curve(self, curve: ErrorCurve | None, title: str = "") -> None:
        self.curve = curve
        if curve is None:
            self.plot.enableAutoRange()
            for c in self.curves.values():
                c.setData([], [])
            self.marker.hide()
            self.plot.setTitle(title or "error vs reference: computed after the run")
            return
        self.curves["x0"].setData(curve.sigmas, np.maximum(curve.x0, FLOOR))
        self.curves["x_t"].setData(curve.sigmas, np.maximum(curve.x_t, FLOOR))
        self.plot.autoRange()
        self.plot.disableAutoRange()  # the marker moves on a fixed view: no re-layout per playhead move
        self.plot.setTitle(title or f"final RMS error {curve.final:.2g}, {curve.calls} calls")

    def mark(self, index: int) -> None:
        if self.curve is None or not len(self.curve.x0):
            return
        i = int(np.clip(index, 0, len(self.curve.x0) - 1))
        # log mode: scatter items are placed in log10 coordinates
        self.marker.setPos(math.log10(self.curve.sigmas[i]), math.log10(max(self.curve.x0[i], FLOOR)))
        self.marker.show()

    def marker_position(self) -> tuple[float, float] | None:
        """(sigma, RMS error) where the marker is; None while it is hidden."""
        if not self.marker.isVisible():
            return None
        return 10.0 ** self.marker.pos().x(), 10.0 ** self.marker.pos().y()
