"""Schedule curves against t (beta_t, alpha-bar_t and optional extras) with a cursor linked to the timeline.

Three stacked pyqtgraph plots share the t axis: noise per step (beta_t, optionally the posterior variance
beta-tilde_t), signal and noise scales (abar_t, optionally sqrt(abar_t) and sqrt(1 - abar_t)), and log-SNR (shown
when toggled). Each has a draggable cursor; moving one emits ``cursorMoved(t)``, and :meth:`set_t` moves them all
with signals blocked, so the timeline and the plots never echo each other. The t axis runs from T-1 on the left
to 0 on the right, the same direction as the timeline under the panes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QGridLayout, QVBoxLayout, QWidget

from diffusion_studio.app.help_texts import CURVE_TIPS
from diffusion_studio.core.schedules import Schedule

CURVES = {  # key: (name in the plot title (HTML), plot row, colour, toggle label or None when always shown)
    "beta": ("β<sub>t</sub>", 0, "#3d8fe0", None),
    "posterior_variance": ("β̃<sub>t</sub>", 0, "#e08a1e", "β̃ₜ"),
    "alpha_bar": ("ᾱ<sub>t</sub>", 1, "#3d8fe0", None),
    "sqrt_alpha_bar": ("√ᾱ<sub>t</sub>", 1, "#2e9e4f", "√ᾱₜ"),
    "sqrt_one_minus": ("√(1−ᾱ<sub>t</sub>)", 1, "#d9472b", "√(1−ᾱₜ)"),
    "log_snr": ("log(ᾱ<sub>t</sub>/(1−ᾱ<sub>t</sub>))", 2, "#8e5bd6", "log-SNR"),
}
TOGGLE_TIPS = {
    "posterior_variance": "β̃ₜ, the variance of the posterior q(x_(t-1) | x_t, x_0)",
    "sqrt_alpha_bar": "√ᾱₜ, how much of x₀ is left in x_t (signal scale)",
    "sqrt_one_minus": "√(1−ᾱₜ), how much noise is in x_t (noise scale)",
    "log_snr": "log signal-to-noise ratio, log(ᾱₜ / (1−ᾱₜ))",
}
ROW_TITLES = ("noise per step", "signal left", "log SNR")
ROW_TIPS = (
    "How much noise each single step adds (β_t) and the variance of its posterior (β̃_t)",
    "How much of the clean picture is left at t (ᾱ_t and its square root) and how much noise (√(1−ᾱ_t))",
    "log(ᾱ_t/(1−ᾱ_t)): above 0 the signal dominates x_t, below 0 the noise",
)
CURSOR_COLOUR = "#e0563d"
MAX_STEP_MARKERS = 200
DEFAULT_ON = ("sqrt_alpha_bar", "sqrt_one_minus")


def curve_values(schedule: Schedule, key: str) -> np.ndarray:
    """The y values of one curve for a schedule."""
    return {
        "beta": schedule.betas,
        "posterior_variance": schedule.posterior_variance,
        "alpha_bar": schedule.alpha_bars,
        "sqrt_alpha_bar": schedule.sqrt_alpha_bars,
        "sqrt_one_minus": schedule.sqrt_one_minus_alpha_bars,
        "log_snr": schedule.log_snr,
    }[key]


class SchedulePlot(QWidget):
    """The schedule dock's content."""

    cursorMoved = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pal = self.palette()
        self._fg = pal.color(QPalette.ColorRole.WindowText)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(pal.color(QPalette.ColorRole.Base))
        self.glw.setMinimumSize(220, 200)
        self.plots: list[pg.PlotItem] = []
        self.cursors: list[pg.InfiniteLine] = []
        for row in range(len(ROW_TITLES)):
            plot = self.glw.addPlot(row=row, col=0)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMenuEnabled(False)
            plot.getViewBox().setDefaultPadding(0.02)
            plot.invertX(True)  # t falls from left to right, as on the timeline (noise left, clean right)
            for axis in ("left", "bottom"):
                item = plot.getAxis(axis)
                item.setTextPen(self._fg)
                item.setPen(pal.color(QPalette.ColorRole.Mid))
                # a moving cursor repaints the axes next to it: blit them from a cache instead of redrawing text
                item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            if row:
                plot.setXLink(self.plots[0])
            cursor = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(CURSOR_COLOUR, width=2),
                                     hoverPen=pg.mkPen("#ff7a5c", width=3))
            cursor.sigPositionChanged.connect(self._on_cursor_dragged)
            plot.addItem(cursor, ignoreBounds=True)
            self.plots.append(plot)
            self.cursors.append(cursor)
        self.plots[-1].setLabel("bottom", "t", color=self._fg.name())
        self.curves: dict[str, pg.PlotDataItem] = {}
        for key, (_, row, colour, _) in CURVES.items():
            self.curves[key] = self.plots[row].plot(pen=pg.mkPen(colour, width=2))
            self.curves[key].setToolTip(CURVE_TIPS[key])
            self.curves[key].curve.setToolTip(CURVE_TIPS[key])
        for plot, tip in zip(self.plots, ROW_TIPS, strict=True):
            plot.titleLabel.setToolTip(tip)
            plot.getViewBox().setToolTip(tip)
        self._highlighted: str | None = None
        self.run_steps = pg.ScatterPlotItem(size=6, brush=pg.mkBrush("#3d8fe0"), pen=pg.mkPen("w", width=1))
        self.plots[1].addItem(self.run_steps)
        self.toggles: dict[str, QCheckBox] = {}
        grid = QGridLayout()
        grid.setContentsMargins(4, 2, 4, 2)
        for k, (key, (_, _, _, label)) in enumerate((k, v) for k, v in CURVES.items() if v[3]):
            box = QCheckBox(label)
            box.setStyleSheet(f"QCheckBox {{ color: {CURVES[key][2]}; }}")
            box.setToolTip(f"Show {TOGGLE_TIPS[key]}")
            box.setChecked(key in DEFAULT_ON)
            box.toggled.connect(self._apply_toggles)
            grid.addWidget(box, 0, k)
            self.toggles[key] = box
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid)
        layout.addWidget(self.glw, 1)
        self.schedule: Schedule | None = None
        self._t = 0
        self._apply_toggles()

    # ----------------------------------------------------------------------------------------------- content
    def set_schedule(self, schedule: Schedule) -> None:
        """Redraw every curve for a schedule (and keep the cursor where it was, clamped)."""
        self.schedule = schedule
        ts = np.arange(schedule.T)
        for key, curve in self.curves.items():
            curve.setData(ts, curve_values(schedule, key))
        for cursor in self.cursors:
            cursor.setBounds((0, schedule.T - 1))
        self.plots[0].setXRange(0, schedule.T - 1, padding=0.02)
        for plot in self.plots:
            plot.enableAutoRange(axis="y")
        self.set_t(min(self._t, schedule.T - 1))

    def set_run_steps(self, timesteps: Sequence[int]) -> None:
        """Mark the timesteps a run visits on the abar curve (a DDIM run shows its respacing)."""
        if self.schedule is None or not len(timesteps):
            self.run_steps.setData([], [])
            self._apply_toggles()
            return
        ts = np.asarray([t for t in timesteps if 0 <= t < self.schedule.T])
        if len(ts) > MAX_STEP_MARKERS:  # a run over (nearly) every t would just paint over the curve
            ts = ts[:0]
        self.run_steps.setData(ts, self.schedule.alpha_bars[ts])
        self._apply_toggles()

    def set_t(self, t: int) -> None:
        """Move every cursor to t (t = -1, the clean end, sits at 0) without emitting ``cursorMoved``."""
        self._t = max(0, int(t))
        for cursor in self.cursors:
            blocked = cursor.blockSignals(True)
            cursor.setValue(self._t)
            cursor.blockSignals(blocked)

    @property
    def t(self) -> int:
        return self._t

    def highlight(self, key: str | None) -> None:
        """Draw one curve thick (a formula term under the mouse belongs to it); None restores them all."""
        if key == self._highlighted:
            return
        for k, curve in self.curves.items():
            curve.setPen(pg.mkPen(CURVES[k][2], width=5 if k == key else 2))
        self._highlighted = key

    def curve_data(self, key: str) -> np.ndarray:
        return self.curves[key].getData()[1]

    def toggle_state(self) -> dict[str, bool]:
        return {key: box.isChecked() for key, box in self.toggles.items()}

    def restore_toggles(self, state: dict) -> None:
        for key, on in state.items():
            if key in self.toggles:
                self.toggles[key].setChecked(bool(on))

    # ----------------------------------------------------------------------------------------------- events
    def _on_cursor_dragged(self, cursor: pg.InfiniteLine) -> None:
        t = round(cursor.value())
        self.set_t(t)  # snaps the dragged line to whole t and keeps the others with it
        self.cursorMoved.emit(self._t)

    def _apply_toggles(self) -> None:
        for key, box in self.toggles.items():
            self.curves[key].setVisible(box.isChecked())
        log_snr_on = self.toggles["log_snr"].isChecked()
        self.plots[2].setVisible(log_snr_on)
        self.plots[1].setLabel("bottom", "" if log_snr_on else "t", color=self._fg.name())
        self.plots[2].setLabel("bottom", "t", color=self._fg.name())
        for row, title in enumerate(ROW_TITLES):
            shown = [f"<span style='color:{colour}'>{name}</span>" for key, (name, r, colour, _) in CURVES.items()
                     if r == row and self.curves[key].isVisible()]
            if row == 1 and self.run_steps.points().size:
                shown.append("<span style='color:#3d8fe0'>● run steps</span>")
            self.plots[row].setTitle(f"<span style='color:{self._fg.name()}'>{title}:</span> " + ", ".join(shown),
                                     size="9pt")
