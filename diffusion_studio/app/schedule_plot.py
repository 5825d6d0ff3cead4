"""Schedule curves against t (beta_t, alpha-bar_t and optional extras) with a cursor linked to the timeline.

Three stacked pyqtgraph plots share the t axis: noise per step (beta_t, optionally the posterior variance
beta-tilde_t), signal and noise scales (abar_t, optionally sqrt(abar_t) and sqrt(1 - abar_t)), and log-SNR (shown
when toggled). Each has a draggable cursor; moving one emits ``cursorMoved(t)``, and :meth:`set_t` moves them all
with signals blocked, so the timeline and the plots never echo each other. The t axis runs from T-1 on the left
to 0 on the right, the same direction as the timeline under the panes.

The x axis can also be log-SNR, lambda = log(abar / (1 - abar)) (Kingma et al. 2021), rising from the noisy left to
the clean right; a dragged cursor then picks the t whose lambda_t is nearest, and the third row shows t against
lambda. :meth:`set_placement` marks where a plan's model calls fall (core/placement.py) on the abar curve: at
their exact lambda (a sigma grid's fractional noise levels) or model time, Heun's second calls as triangles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QGridLayout, QVBoxLayout, QWidget

from diffusion_studio.app.help_texts import CURVE_TIPS
from diffusion_studio.core.placement import CallKind, Placement, nearest_t
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
T_AXIS, LOG_SNR_AXIS = "t", "log_snr"
AXIS_KEY = "axis_log_snr"  # in toggle_state(): the axis choice, kept with the curve toggles
AXIS_LABELS = {T_AXIS: "t", LOG_SNR_AXIS: "log-SNR λ = log(ᾱ/(1−ᾱ))"}
STEP_COLOUR, CORRECTION_COLOUR = "#3d8fe0", "#e08a1e"


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
    axisChanged = Signal(str)  # "t" or "log_snr"

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
            # the moving cursor repaints the region it crosses: blit the curve from a cache there, not redraw it
            self.curves[key].curve.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        for plot, tip in zip(self.plots, ROW_TIPS, strict=True):
            plot.titleLabel.setToolTip(tip)
            plot.getViewBox().setToolTip(tip)
        self._highlighted: str | None = None
        self.axis = T_AXIS
        self.placement: Placement | None = None
        self._run_ts: np.ndarray = np.zeros(0, dtype=np.int64)
        self.run_steps = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(STEP_COLOUR), pen=pg.mkPen("w", width=1))
        self.corrections = pg.ScatterPlotItem(size=9, symbol="t1", brush=pg.mkBrush(CORRECTION_COLOUR),
                                              pen=pg.mkPen("w", width=1))
        self.run_steps.setToolTip("Where the sampler calls the model (its steps' noise levels)")
        self.corrections.setToolTip("Heun's second model call of a step, at the next step's noise level")
        self.plots[1].addItem(self.corrections)
        self.plots[1].addItem(self.run_steps)
        self.run_steps.setZValue(self.corrections.zValue() + 1)  # a dot on a triangle: both calls show
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
        self.axis_box = QCheckBox("x axis: log-SNR λ")
        self.axis_box.setToolTip("Plot against the log signal-to-noise ratio λ = log(ᾱ/(1−ᾱ)) instead of t (the "
                                 "timeline follows): samplers and schedules compare on it, whatever their t")
        self.axis_box.toggled.connect(lambda on: self.set_axis(LOG_SNR_AXIS if on else T_AXIS))
        grid.addWidget(self.axis_box, 1, 0, 1, max(1, len(self.toggles)))
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
        self._redraw()

    def set_axis(self, axis: str) -> None:
        """Plot against t (``"t"``) or log-SNR (``"log_snr"``); the curves, cursors and markers follow."""
        axis = LOG_SNR_AXIS if axis == LOG_SNR_AXIS else T_AXIS
        if self.axis_box.isChecked() != (axis == LOG_SNR_AXIS):
            blocked = self.axis_box.blockSignals(True)
            self.axis_box.setChecked(axis == LOG_SNR_AXIS)
            self.axis_box.blockSignals(blocked)
        if axis == self.axis:
            return
        self.axis = axis
        self._redraw()
        self.axisChanged.emit(axis)

    def x_of_t(self, t: int) -> float:
        """Where t sits on the x axis: t itself, or lambda_t (the clean end, t = -1, sits at t = 0)."""
        t = max(0, int(t))
        if self.axis == LOG_SNR_AXIS and self.schedule is not None:
            return float(self.schedule.log_snr[min(t, self.schedule.T - 1)])
        return float(t)

    def t_of_x(self, x: float) -> int:
        """The whole t nearest to x on the axis shown (on log-SNR: the t whose lambda_t is nearest)."""
        if self.schedule is None:
            return max(0, round(x))
        if self.axis == LOG_SNR_AXIS:
            return nearest_t(self.schedule, float(x))
        return max(0, min(self.schedule.T - 1, round(x)))

    def _redraw(self) -> None:
        schedule = self.schedule
        if schedule is None:
            return
        on_snr = self.axis == LOG_SNR_AXIS
        ts = np.arange(schedule.T, dtype=np.float64)
        xs = np.asarray(schedule.log_snr, dtype=np.float64) if on_snr else ts
        for key, curve in self.curves.items():
            curve.setData(xs, ts if on_snr and key == "log_snr" else curve_values(schedule, key))
        lo, hi = float(xs.min()), float(xs.max())
        for cursor in self.cursors:
            cursor.setBounds((lo, hi))
        for plot in self.plots:
            plot.invertX(not on_snr)  # noise on the left either way: t falls, log-SNR rises to the right
        self.plots[0].setXRange(lo, hi, padding=0.02)
        for plot in self.plots:
            plot.enableAutoRange(axis="y")
        self._place_markers()
        self.set_t(min(self._t, schedule.T - 1))

    def set_run_steps(self, timesteps: Sequence[int]) -> None:
        """Mark the timesteps a run visits on the abar curve (a DDIM run shows its respacing)."""
        self.placement = None
        self._run_ts = np.asarray(list(timesteps), dtype=np.int64)
        self._place_markers()

    def set_placement(self, placement: Placement | None) -> None:
        """Mark where a plan's model calls fall (None: no marks): at their exact log-SNR on that axis, at their
        model time on the t axis; y is the abar of that noise level, 1 / (1 + exp(-lambda))."""
        self.placement = placement
        self._run_ts = np.zeros(0, dtype=np.int64)
        self._place_markers()

    def _place_markers(self) -> None:
        empty: tuple[list, list] = ([], [])
        steps, corrections = empty, empty
        p, sched = self.placement, self.schedule
        if sched is not None and p is not None and 0 < p.calls <= MAX_STEP_MARKERS:
            x = p.log_snr if self.axis == LOG_SNR_AXIS else p.time
            y = 1.0 / (1.0 + np.exp(-p.log_snr))
            first = p.mask(CallKind.STEP)
            steps, corrections = (x[first], y[first]), (x[~first], y[~first])
        elif sched is not None and 0 < len(self._run_ts) <= MAX_STEP_MARKERS:
            # a run over (nearly) every t would just paint over the curve: no marks then
            ts = self._run_ts[(self._run_ts >= 0) & (self._run_ts < sched.T)]
            xs = np.asarray(sched.log_snr)[ts] if self.axis == LOG_SNR_AXIS else ts
            steps = (xs, sched.alpha_bars[ts])
        self.run_steps.setData(*steps)
        self.corrections.setData(*corrections)
        self._apply_toggles()

    def set_t(self, t: int) -> None:
        """Move every cursor to t (t = -1, the clean end, sits at 0) without emitting ``cursorMoved``."""
        self._t = max(0, int(t))
        x = self.x_of_t(self._t)
        for cursor in self.cursors:
            blocked = cursor.blockSignals(True)
            cursor.setValue(x)
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
        """The curve toggles and the axis choice (``AXIS_KEY``), as the window stores them."""
        return {**{key: box.isChecked() for key, box in self.toggles.items()}, AXIS_KEY: self.axis == LOG_SNR_AXIS}

    def restore_toggles(self, state: dict) -> None:
        for key, on in state.items():
            if key in self.toggles:
                self.toggles[key].setChecked(bool(on))
        if AXIS_KEY in state:
            self.set_axis(LOG_SNR_AXIS if state[AXIS_KEY] is True else T_AXIS)

    # ----------------------------------------------------------------------------------------------- events
    def _on_cursor_dragged(self, cursor: pg.InfiniteLine) -> None:
        t = self.t_of_x(cursor.value())
        self.set_t(t)  # snaps the dragged line to whole t (its lambda_t) and keeps the others with it
        self.cursorMoved.emit(self._t)

    def _apply_toggles(self) -> None:
        for key, box in self.toggles.items():
            self.curves[key].setVisible(box.isChecked())
        log_snr_on = self.toggles["log_snr"].isChecked()
        on_snr = self.axis == LOG_SNR_AXIS
        label = AXIS_LABELS[self.axis]
        self.plots[2].setVisible(log_snr_on)
        self.plots[1].setLabel("bottom", "" if log_snr_on else label, color=self._fg.name())
        self.plots[2].setLabel("bottom", label, color=self._fg.name())
        for row, title in enumerate(ROW_TITLES):
            shown = [f"<span style='color:{colour}'>{name}</span>" for key, (name, r, colour, _) in CURVES.items()
                     if r == row and self.curves[key].isVisible()]
            if row == 2 and on_snr:  # against lambda, the log-SNR curve would be the diagonal: show t instead
                title, shown = "timestep", [f"<span style='color:{CURVES['log_snr'][2]}'>t at this λ</span>"]
            if row == 1 and self.run_steps.points().size:
                what = "calls" if self.corrections.points().size else "model calls"
                what = what if self.placement is not None else "run steps"
                shown.append(f"<span style='color:{STEP_COLOUR}'>● {what}</span>")
            if row == 1 and self.corrections.points().size:  # short: the title must fit a narrow dock
                shown.append(f"<span style='color:{CORRECTION_COLOUR}'>▲ 2nd</span>")
            self.plots[row].setTitle(f"<span style='color:{self._fg.name()}'>{title}:</span> " + ", ".join(shown),
                                     size="9pt")
