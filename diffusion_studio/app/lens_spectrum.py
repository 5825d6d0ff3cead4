"""The spectrum lens panel: power spectra of x_t, x0-hat and eps-hat at the step on screen (log-log).

The noise floor 1 - abar of the step is a horizontal line, and the frequency where the signal abar P(x0-hat)
meets it a vertical one; both move with the playhead (see :mod:`diffusion_studio.core.lens_spectrum`).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from diffusion_studio.core.lens_spectrum import StepSpectrum

COLOURS = {"x_t": "#3d8fe0", "x0": "#ff8c1a", "eps": "#2ca02c", "signal": "#9467bd"}


class SpectrumPanel(QWidget):
    """A log-log plot updated with :meth:`show_spectrum`; ``None`` clears it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLogMode(x=True, y=True)
        self.plot.setLabel("bottom", "frequency (cycles per pixel)")
        self.plot.setLabel("left", "power")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        freqs = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)  # log mode: tick positions are log10 values
        self.plot.getAxis("bottom").setTicks([[(math.log10(f), f"{f:g}") for f in freqs], []])
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.curves = {
            "x_t": self.plot.plot(pen=pg.mkPen(COLOURS["x_t"], width=2), name="x_t"),
            "x0": self.plot.plot(pen=pg.mkPen(COLOURS["x0"], width=2), name="x0-hat"),
            "eps": self.plot.plot(pen=pg.mkPen(COLOURS["eps"], width=2), name="eps-hat"),
            "signal": self.plot.plot(pen=pg.mkPen(COLOURS["signal"], width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
                                     name="abar P(x0-hat)"),
        }
        self.floor = pg.InfiniteLine(angle=0, pen=pg.mkPen("k", width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
                                     label="noise floor", labelOpts={"position": 0.1, "color": "k"})
        self.crossover = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=2),
                                         label="signal = noise", labelOpts={"position": 0.45, "color": "#d62728"})
        self.plot.addItem(self.floor)
        self.plot.addItem(self.crossover)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.shown: StepSpectrum | None = None

    def show_spectrum(self, sp: StepSpectrum | None, title: str = "") -> None:
        self.shown = sp
        self.plot.setTitle(title)
        if sp is None:
            for curve in self.curves.values():
                curve.setData([], [])
            self.floor.hide()
            self.crossover.hide()
            return
        for key, values in (("x_t", sp.x_t), ("x0", sp.x0), ("eps", sp.eps), ("signal", sp.signal)):
            self.curves[key].setData(sp.freqs, np.maximum(values, 1e-12))
        self.floor.setPos(math.log10(max(sp.noise_floor, 1e-12)))  # log mode: positions are log10
        self.floor.show()
        if sp.crossover is None:
            self.crossover.hide()
        else:
            self.crossover.setPos(math.log10(sp.crossover))
            self.crossover.show()
