"""The spectrum lens panel: power spectra of x_t, x0-hat and eps-hat at the step on screen (log-log).

The noise floor 1 - abar of the step is a horizontal line, and the frequency where the signal abar P(x0-hat)
meets it a vertical one; both move with the playhead (see :mod:`diffusion_studio.core.lens_spectrum`).

A playhead move must repaint in well under a frame (issue 12: < 16 ms with the lenses open), so a move changes
only what moves: the four curves get their new points (already in log10, the plot's log-mode coordinates), the
two lines their positions and the title its text; the view does not rescale (it grows only when a spectrum falls
outside everything shown before), so axes, ticks and layout are not recomputed per move.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from diffusion_studio.app.lens_trajectory import PLOT_MIN_WIDTH
from diffusion_studio.core.lens_spectrum import StepSpectrum

COLOURS = {"x_t": "#3d8fe0", "x0": "#ff8c1a", "eps": "#2ca02c", "signal": "#9467bd"}
NAMES = {"x_t": "xₜ", "x0": "pred. x₀", "eps": "pred. ε", "signal": "ᾱ·P(pred. x₀)"}
POWER_FLOOR = 1e-12  # a zero power has no place on a log axis
MARGIN = 0.25  # decades added below and above when the view has to grow


class SpectrumPanel(QWidget):
    """A log-log plot updated with :meth:`show_spectrum`; ``None`` clears it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumWidth(PLOT_MIN_WIDTH)  # narrower, pyqtgraph cuts the plot's right edge off
        self.plot.setLogMode(x=True, y=True)  # log axes; the curves below are given log10 values
        self.plot.setLabel("bottom", "frequency (cycles per pixel)")
        self.plot.setLabel("left", "power")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        freqs = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)  # log mode: tick positions are log10 values
        self.plot.getAxis("bottom").setTicks([[(math.log10(f), f"{f:g}") for f in freqs], []])
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        # a light box behind the legend keeps it readable where it lies over the curves
        self.plot.addLegend(offset=(-10, 10), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 215))
        self.curves: dict[str, pg.PlotCurveItem] = {}
        for key, colour in COLOURS.items():
            pen = (pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine) if key == "signal"
                   else pg.mkPen(colour, width=2))
            self.curves[key] = pg.PlotCurveItem(pen=pen, name=NAMES[key], connect="finite")  # a diverged run: gaps
            self.plot.addItem(self.curves[key])
        self.floor = pg.InfiniteLine(angle=0, pen=pg.mkPen("k", width=1, style=Qt.PenStyle.DashLine),
                                     label="noise floor", labelOpts={"position": 0.1, "color": "k"})
        self.crossover = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=2),
                                         label="signal = noise", labelOpts={"position": 0.45, "color": "#d62728"})
        self.plot.addItem(self.floor)
        self.plot.addItem(self.crossover)
        self.plot.setTitle(" ")  # the title row is laid out once; moves change only its text
        self.plot.disableAutoRange()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.shown: StepSpectrum | None = None
        self.view_y: tuple[float, float] | None = None  # log10 power range of every spectrum since the last clear
        self._freqs: np.ndarray | None = None

    def title(self) -> str:
        return self.plot.plotItem.titleLabel.text

    def curve_data(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(frequencies, power) of one curve as plotted (log mode: the items hold log10 values)."""
        x, y = self.curves[key].getData()
        return 10.0 ** np.asarray(x), 10.0 ** np.asarray(y)

    def show_spectrum(self, sp: StepSpectrum | None, title: str = "") -> None:
        self.shown = sp
        self.plot.plotItem.titleLabel.setText(title or " ")
        if sp is None:
            for curve in self.curves.values():
                curve.setData([], [])
            self.floor.hide()
            self.crossover.hide()
            self.view_y, self._freqs = None, None
            return
        if self._freqs is None or not np.array_equal(self._freqs, sp.freqs):
            self._freqs = np.asarray(sp.freqs, dtype=np.float64)
            self._log_freqs = np.log10(self._freqs)
            self.view_y = None  # a new picture size: fit again
        lo, hi = math.inf, -math.inf
        for key, values in (("x_t", sp.x_t), ("x0", sp.x0), ("eps", sp.eps), ("signal", sp.signal)):
            y = np.log10(np.maximum(values, POWER_FLOOR))
            self.curves[key].setData(self._log_freqs, y)
            finite = y[np.isfinite(y)]  # a diverged run's NaN leaves a gap and no say in the view
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        floor = math.log10(max(sp.noise_floor, POWER_FLOOR))  # log mode: positions are log10
        self._grow_view(min(lo, floor), max(hi, floor))
        _place(self.floor, floor)
        if sp.crossover is None:
            self.crossover.hide()
        else:
            _place(self.crossover, math.log10(sp.crossover))

    def _grow_view(self, lo: float, hi: float) -> None:
        """The view holds every spectrum shown since the last clear and only grows, so a move does not rescale."""
        if self.view_y is not None and self.view_y[0] <= lo and hi <= self.view_y[1]:
            return
        if self.view_y is not None:
            lo, hi = min(lo, self.view_y[0]), max(hi, self.view_y[1])
        self.view_y = (lo - MARGIN, hi + MARGIN)
        x = self._log_freqs
        self.plot.setRange(xRange=(float(x[0]), float(x[-1])), yRange=self.view_y, padding=0.02)


def _place(line: pg.InfiniteLine, pos: float) -> None:
    """Show ``line`` at ``pos``. A hidden line's label does not follow it (nor, with a fixed view, does anything
    else move it), so a line shown again gets its label placed explicitly."""
    was_hidden = not line.isVisible()
    line.show()
    line.setPos(pos)
    label = getattr(line, "label", None)
    if was_hidden and label is not None:
        label.valueChanged()
