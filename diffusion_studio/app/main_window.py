"""The main window: assembles the panels and keeps them in step (canvas, timeline, plots, maths, status).

Two views share the canvas and the timeline. *Forward* shows the loaded picture being noised in closed form (and,
on request, by the chained one-step process); *reverse* shows the recorded steps of the last run. The window owns
no maths: it asks :class:`ForwardProcess` and the :class:`RunSession`'s store for pictures and paints them.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from diffusion_studio.app.about import AboutDialog, ExplainDialog
from diffusion_studio.app.canvas import IMAGE_RANGE, Canvas
from diffusion_studio.app.compare_hook import install_compare
from diffusion_studio.app.controls import ControlsPanel
from diffusion_studio.app.export_dialog import ExportDialog
from diffusion_studio.app.exporting import (
    ExportOutcome,
    ExportRequest,
    ExportSource,
    default_export_path,
    file_stem,
    forward_source,
    reverse_source,
    run_export,
    run_note,
)
from diffusion_studio.app.forward_view import ChainStore, ForwardProcess
from diffusion_studio.app.guidance_size import GuidanceProbe
from diffusion_studio.app.help_texts import FIRST_LAUNCH, PANE_TIPS, TERMS
from diffusion_studio.app.maths_panel import MathsPanel
from diffusion_studio.app.menus import build_menus
from diffusion_studio.app.player import PlayerBar
from diffusion_studio.app.readout import forward_readout
from diffusion_studio.app.run_bar import RunBar
from diffusion_studio.app.run_labels import controls_maths_state, run_maths_state, run_names
from diffusion_studio.app.run_session import RunSession
from diffusion_studio.app.schedule_plot import LOG_SNR_AXIS, SchedulePlot
from diffusion_studio.app.settings import Settings
from diffusion_studio.app.shortcuts import install_playhead_keys
from diffusion_studio.app.status_panel import StatusPanel
from diffusion_studio.app.step_placement import install_step_placement
from diffusion_studio.app.streaming import describe_device
from diffusion_studio.app.third_pane_choice import install_third_pane
from diffusion_studio.app.worker import CANCELLED, FAILED, FINISHED, BackgroundJob
from diffusion_studio.errors import StudioError
from diffusion_studio.io.frames import EPS_RANGE
from diffusion_studio.io.gif import ExportSummary
from diffusion_studio.io.images import load_image
from diffusion_studio.models.registry import describe_models
from diffusion_studio.paths import icon_path, sample_images
from diffusion_studio.runs import PreparedRun, RunRequest, prepare_run

FORWARD, REVERSE = "forward", "reverse"
SLOW_UPDATE_S = 0.1  # during a run: the progress numbers refresh at most this often
# during a run the plot cursor and maths wait this many times their own cost between updates: the rich text is
# laid out again at paint time (about three times the cost of setting it), so they take at most ~25 % of the GUI
# thread; on an idle computer that is every refresh
SECONDARY_SPACING = 12.0
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
X_T, X0, X0_HAT = "x<sub>t</sub>", "x<sub>0</sub>", "<i>x̂</i><sub>0</sub>"
EPS, EPS_HAT = "ε", "ε̂<sub>θ</sub>"
MUTED = "<span style='color:#9aa0a6'>{}</span>"


def app_icon() -> QIcon:
    """The app icon: the SVG plus every rendered PNG size, so it shows even without Qt's SVG plugin."""
    path = icon_path()
    icon = QIcon(str(path)) if path.is_file() else QIcon()
    for png in sorted(path.parent.glob("hicolor/*/apps/*.png")):
        icon.addFile(str(png))
    return icon


class MainWindow(QMainWindow):
    """Diffusion Studio's window. Signals are for tests and scripts; all are emitted in the GUI thread."""

    imageLoaded = Signal(str)
    viewChanged = Signal(str)
    runEnded = Signal(str, str)
    exportEnded = Signal(str, str)
    chainReady = Signal()

    def __init__(self, settings: Settings | None = None,
                 prepare: Callable[[RunRequest], PreparedRun] = prepare_run) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.setWindowTitle("")  # Qt shows the application display name
        self.setWindowIcon(app_icon())
        self._prepare, self._probe, self._probing = prepare, None, False
        self.session = RunSession(self._prepare_run, parent=self)
        models = [m for m in describe_models() if not m.origin.startswith("unusable")]
        self.controls = ControlsPanel(models, sample_images())
        self.canvas = Canvas()
        self.player = PlayerBar()
        self.plot = SchedulePlot()
        self.maths = MathsPanel()
        self.status = StatusPanel()
        self.setStatusBar(self.status)
        self.view = FORWARD
        self.forward: ForwardProcess | None = None
        self.own_path: Path | None = None
        self.image_name = ""
        self.following = True
        self._t = {FORWARD: -1, REVERSE: -1}
        self._chain: ChainStore | None = None
        self._chain_job = BackgroundJob("chain", self)
        self._export_job = BackgroundJob("export", self)
        self._export_result: object = None
        self._export_outcome = ExportOutcome()
        self._last_slow_update = 0.0
        self._last_secondary, self._secondary_cost = 0.0, 0.0
        self._secondary = QTimer(self)
        self._secondary.setSingleShot(True)
        self._secondary.setInterval(0)
        self._secondary.timeout.connect(self._update_secondary)
        self._build_layout()
        self.menu_actions = build_menus(self)
        install_compare(self)  # Run > Compare and Branch… (app/compare_view.py)
        self.placement = install_step_placement(self)  # View > Log-SNR Axis and step placement (issue 12)
        self.third_pane = install_third_pane(self)  # View > Right Pane: ε̂, v̂ or the flow velocity (issue 12)
        self.third_pane.changed.connect(lambda _: self._show())
        self.playhead_keys = install_playhead_keys(self, self.player)
        self._connect()
        saved = self.settings.controls()
        self.first_launch = not saved
        self.controls.restore(saved or FIRST_LAUNCH)
        self.plot.restore_toggles(self.settings.get_json("plots/toggles"))
        if not self.settings.restore_window(self):
            self.setGeometry(self.screen().availableGeometry())  # first launch: the whole screen it was given
        self.status.set_device(self._expected_device())
        self.setAcceptDrops(True)
        self._load_chosen_image()
        self._set_view(FORWARD, force=True)
        self.player.timeline.setFocus()  # arrows, Home/End and Space work from the start

    # ================================================================================================ layout
    def _build_layout(self) -> None:
        """Top: the run bar (views, Run, Cancel); centre: the panes; bottom: the timeline across the window;
        left: the Controls dock (scrolls vertically, never clips sideways); right: plots and maths."""
        self.run_bar = RunBar(self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.run_bar)
        self.view_switch = self.view_tabs = self.run_bar.view_switch  # view_tabs: the old name
        self.chain_check = self.run_bar.chain_check
        self.resample_button = self.run_bar.resample_button
        self.run_bar.zoom_button.clicked.connect(self.canvas.reset_zoom)
        self.controls.run_button = self.run_bar.run_button  # the old place of Run, kept for callers
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addWidget(self.canvas, 1)
        self.setCentralWidget(central)
        self.player_bar = QToolBar("Timeline", self)
        self.player_bar.setObjectName("timeline-bar")
        self.player_bar.setMovable(False)
        self.player_bar.setFloatable(False)
        self.player_bar.toggleViewAction().setVisible(False)
        self.player_bar.addWidget(self.player)
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, self.player_bar)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.controls)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        # wide enough for the controls' own minimum beside the scroll bar: they are never clipped on the right
        # (long names are elided instead, so this minimum does not grow with a file name)
        scroll.setMinimumWidth(self.controls.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                               + 2 * scroll.frameWidth())
        self.controls_scroll = scroll
        self.docks = [
            self._dock("Controls", "controls", scroll, Qt.DockWidgetArea.LeftDockWidgetArea),
            self._dock("Schedule", "schedule", self.plot, Qt.DockWidgetArea.RightDockWidgetArea),
            self._dock("Maths", "maths", self.maths, Qt.DockWidgetArea.RightDockWidgetArea),
        ]
        self.resizeDocks(self.docks[1:], [500, 400], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks[0], self.docks[1]], [scroll.minimumWidth(), 330], Qt.Orientation.Horizontal)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        self.view_switch.viewChosen.connect(self.set_view)
        self.run_bar.run_button.clicked.connect(self.controls.runRequested)
        self.run_bar.cancel_button.clicked.connect(self.cancel_run)
        self.chain_check.toggled.connect(self.set_chain_visible)
        self.resample_button.clicked.connect(self.resample_noise)
        self.player.positionChanged.connect(self._on_position)
        self.plot.cursorMoved.connect(self._on_plot_cursor)
        self.controls.scheduleChanged.connect(self._on_schedule_changed)
        self.controls.changed.connect(self._update_maths)
        self.controls.changed.connect(self._update_start_mark)
        self.maths.termHovered.connect(self._on_term_hovered)
        self.controls.imageChoiceChanged.connect(self._load_chosen_image)
        self.controls.sizeChanged.connect(lambda _: self._load_chosen_image())
        self.controls.runRequested.connect(self.start_run)
        self.controls.openRequested.connect(self.choose_image)
        self.status.cancelRequested.connect(self.cancel_run)
        self.session.refreshed.connect(self._on_run_refreshed)
        self.session.noticed.connect(self._on_run_notice)
        self.session.ended.connect(self._on_run_ended)
        self._chain_job.item.connect(self._on_chain_item)
        self._chain_job.ended.connect(self._on_chain_ended)
        self._export_job.item.connect(self._on_export_item)
        self._export_job.ended.connect(self._on_export_ended)

    def _expected_device(self) -> str:
        """The device a run would use with the current choice (shown before the first run)."""
        choice = self.controls.device.currentData()
        cuda = torch.cuda.is_available() and choice != "cpu"
        return describe_device(torch.device("cuda" if cuda else "cpu"))

    # ================================================================================================ pictures
    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image", self.settings.last_folder(), IMAGE_FILTER)
        if path:
            self.open_image(path)

    def open_image(self, path: str | Path, select: bool = True) -> bool:
        """Load a picture of one's own; a bad file shows a dialog and changes nothing. True if loaded.

        ``select`` makes it the start of the next run; a reload (a new picture size) keeps the choice made,
        so "Pure noise" stays chosen."""
        path = Path(path)
        try:
            image = load_image(path, size=self.controls.size.value(), mode="fit", channels=3)
        except StudioError as err:
            QMessageBox.warning(self, "Cannot open this image", str(err))
            return False
        self.own_path = path
        self.settings.add_recent(path)
        self.settings.set_last_folder(path.parent)
        self.controls.set_own_image(path.name, select=select)
        self._set_image(image, path.name)
        return True

    def open_sample(self, path: Path) -> None:
        self.controls.select_sample(path)  # emits imageChoiceChanged -> _load_chosen_image

    def _load_chosen_image(self) -> None:
        if self.controls.image_source() == "own" and self.own_path is not None:
            self.open_image(self.own_path, select=False)
            return
        path = self.controls.sample_path()
        if path is None:
            return
        try:
            image = load_image(path, size=self.controls.size.value(), mode="fit", channels=3)
        except StudioError as err:
            QMessageBox.warning(self, "Cannot open the sample image", str(err))
            return
        self._set_image(image, path.name)

    def _set_image(self, image: np.ndarray, name: str) -> None:
        seed = self.forward.seed if self.forward is not None else 0
        self.forward = ForwardProcess(image, self.controls.schedule(), seed)
        self.image_name = name
        self.controls.set_image_name(Path(name).stem)
        self.controls.set_image_shape(image.shape if image.ndim == 3 else (*image.shape, 1))
        self.setWindowTitle(name)  # Qt appends the application display name itself
        h, w = image.shape[:2]
        self.status.say(f"{name}: {w} × {h} px. Drag the playhead to add noise, or press Run to denoise.")
        self._t[FORWARD] = -1
        if self._chain is not None:
            self._restart_chain()
        self._set_view(FORWARD, force=True)
        self.imageLoaded.emit(name)

    def resample_noise(self) -> None:
        if self.forward is None:
            return
        self.forward.resample(random.randint(0, 2**31 - 1))
        if self._chain is not None:
            self._restart_chain()
        self._show()

    # ================================================================================================ views
    def set_view(self, view: str) -> None:
        self._set_view(view)

    def _set_view(self, view: str, force: bool = False) -> None:
        if view == self.view and not force:
            return
        self.view = view
        self.view_switch.set_view(view)
        (self.menu_actions.forward_view if view == FORWARD else self.menu_actions.reverse_view).setChecked(True)
        for w in (self.chain_check, self.resample_button, self.menu_actions.chain, self.menu_actions.resample):
            w.setEnabled(view == FORWARD)
        self._configure_timeline()
        self._show()
        self.viewChanged.emit(view)

    def _view_schedule(self):
        info = self.session.info
        return info.schedule if self.view == REVERSE and info is not None else self.controls.schedule()

    def _configure_timeline(self) -> None:
        timeline, info = self.player.timeline, self.session.info
        schedule = self._view_schedule()
        if self.plot.schedule is not schedule:
            self.plot.set_schedule(schedule)
        self.placement.refresh()  # the run's (or the settings') model calls on the plots and the timeline
        timeline.snap = self.view == REVERSE
        self.player.set_range(schedule.T - 1)
        if self.view == REVERSE:
            timeline.set_marks(self.session.store.timesteps, info.planned if info is not None else [])
        else:
            timeline.set_marks([], [])
        self.player.reverse_play = self.view == REVERSE
        self._update_start_mark()
        timeline.set_t(self._t[self.view])

    def _update_start_mark(self) -> None:
        """Mark SDEdit's t0 on the timeline: where the next run starts (forward view) or this run started."""
        info = self.session.info
        if self.view == REVERSE:
            t0 = info.timesteps[0] if info is not None and info.plan.strength is not None else None
        else:
            t0 = self.controls.start_t() if self.controls.source() != "noise" else None
        self.player.timeline.set_start_mark(t0)

    def _on_position(self, t: int) -> None:
        self._t[self.view] = t
        latest = self.session.latest
        if self.view == REVERSE and self.session.running:
            self.following = latest is not None and t <= latest.t
        self._show()

    def _on_plot_cursor(self, t: int) -> None:
        self.player.timeline.set_t(t)
        self._on_position(self.player.timeline.t)

    def _show(self) -> None:
        """Show the current view at the playhead: the canvas now, the plot cursor and maths right after.

        The plot and the maths text are updated from a zero-delay timer, i.e. after the canvas has been painted,
        so the picture follows the playhead first; a burst of moves still updates them once.
        """
        t = self.player.timeline.t
        if self.view == FORWARD:
            self._show_forward(t)
        else:
            self._show_reverse(t)
        self._secondary.start()

    def _update_secondary(self) -> None:
        self.plot.set_t(self.player.timeline.t)
        self._update_maths()

    def _show_forward(self, t: int) -> None:
        f = self.forward
        if f is None:
            return
        middle, middle_title = f.image, f"{X0} " + MUTED.format("clean picture")
        if self._chain is not None:
            middle, middle_title = self._chain_frame(t)
        self.canvas.set_titles([f"{X_T} " + MUTED.format("closed form"), middle_title,
                                f"{EPS} " + MUTED.format("the fixed noise")],
                               ["xₜ", "chain xₜ" if self._chain is not None else "x₀", "ε"], PANE_TIPS[FORWARD])
        self.canvas.set_ranges([IMAGE_RANGE, IMAGE_RANGE, (-EPS_RANGE, EPS_RANGE)])
        self.canvas.set_raw(forward_readout(f, t, middle_is_x0=self._chain is None))
        self.canvas.set_images([f.x_t(t), middle, f.eps_uint8])
        abar = 1.0 if t < 0 else float(f.schedule.alpha_bars[t])
        where = "x₀ (clean)" if t < 0 else f"t = {t}"
        self.player.set_where(f"{where}   ·   ᾱ = {abar:.4f}")

    def _chain_frame(self, t: int) -> tuple[np.ndarray | None, str]:
        chain, f = self._chain, self.forward
        if t < 0 or chain is None or f is None:
            return (f.image if f is not None else None), f"{X0} " + MUTED.format("chain start")
        found = chain.at(t)
        if found is None:
            return None, f"{X_T} " + MUTED.format(f"chained: computing… {chain.progress:.0%}")
        t_shown, frame = found
        note = "one step at a time" if t_shown == t else f"stored t = {t_shown}"
        return frame, f"{X_T} " + MUTED.format(f"chained, {note}")

    def _show_reverse(self, t: int) -> None:
        info, latest = self.session.info, self.session.latest
        frame = latest if latest is not None and latest.t == t else self.session.store.at(t)
        third = self.third_pane.pane(frame, info.schedule if info is not None else None)  # ε̂, v̂ or ε̂ − x̂₀
        tips = (*PANE_TIPS[REVERSE][:2], third.tip)
        self.canvas.set_ranges([IMAGE_RANGE, IMAGE_RANGE, third.value_range])
        # raw values while the store keeps tensors; from pictures the readout marks values at the display bounds
        self.canvas.set_raw(third.raw)
        if frame is None:
            hint = "press Run to sample" if info is None else "waiting for the first step…"
            self.canvas.set_titles([f"{X_T} " + MUTED.format(hint), f"{X0_HAT} " + MUTED.format("model's guess"),
                                    third.title], ["xₜ", "pred. x₀", third.name], tips)
            self.canvas.set_images([None, None, None])
            self.player.set_where("no run yet" if info is None else "starting…")
            return
        final = frame.is_final
        self.canvas.set_titles(
            [f"{X0} " + MUTED.format("finished sample") if final else f"{X_T} " + MUTED.format("input of the step"),
             f"{X0_HAT} " + MUTED.format("last guess" if final else "model's guess of x₀"), third.title],
            ["xₜ", "pred. x₀", third.name], tips)
        self.canvas.set_images([frame.x_t, frame.x0, third.picture])
        where = "finished x₀" if final else f"step {frame.index + 1}/{frame.steps}   ·   t = {frame.t}"
        if not final and self.plot.axis == LOG_SNR_AXIS and frame.pred_abar is not None and 0 < frame.pred_abar < 1:
            # the axis in use; the exact t stays in the box beside the label
            lam = math.log(frame.pred_abar / (1 - frame.pred_abar))
            where = f"step {frame.index + 1}/{frame.steps}   ·   λ = {lam:.2f}"
        self.player.set_where(where)

    def _update_maths(self) -> None:
        t = min(self.player.timeline.t, self._view_schedule().T - 1)
        info = self.session.info
        if self.view == REVERSE and info is not None:
            sizes, note = None, ""
            probe, frame = self._probe, self.session.store.at(t)
            if probe is not None and not self.session.running and frame is not None and frame.t == t:
                x_t = frame.tensor(0)
                sizes = probe.at(t, info.t_prevs.get(t, t - 1), x_t)
                if sizes is None and x_t is None:
                    note = "Not computed: this run kept pictures only (to save memory), not the raw x_t."
                elif sizes is None and probe.slow:
                    note = "Not computed: one model call takes too long here to repeat for every step."
            state = run_maths_state(info, self.controls, t, sizes, note)
        else:
            state = controls_maths_state(self.controls, self._view_schedule(), t, self.view == REVERSE)
        store = self.session.store if self.view == REVERSE and info is not None else None
        self.maths.show_state(self.third_pane.annotate(state, store))  # the flow view's numbers

    def _on_term_hovered(self, key: str) -> None:
        """Light up the curve or pane a formula term under the mouse stands for."""
        target = TERMS[key][1] if key in TERMS else ""
        self.canvas.highlight(int(target[5:]) if target.startswith("pane:") else None)
        self.plot.highlight(target if target and not target.startswith("pane:") else None)

    def _on_schedule_changed(self) -> None:
        schedule = self.controls.schedule()
        if self.forward is not None:
            self.forward.set_schedule(schedule)
        if self._chain is not None:
            self._restart_chain()
        if self.view == FORWARD or self.session.info is None:
            self._configure_timeline()
            self._show()

    # ================================================================================================ chain
    def set_chain_visible(self, on: bool) -> None:
        """Show (and compute on a worker) the chained one-step process in the middle pane."""
        with QSignalBlocker(self.chain_check):
            self.chain_check.setChecked(on)
        self.menu_actions.chain.setChecked(on)
        if on:
            self._restart_chain()
        else:
            self._chain_job.stop()
            self._chain = None
        self._show()

    @property
    def chain(self) -> ChainStore | None:
        return self._chain

    def _restart_chain(self) -> None:
        self._chain_job.stop()
        f = self.forward
        if f is None:
            return
        process = ForwardProcess(f.image, f.schedule, f.seed)  # the worker's own buffers
        self._chain = ChainStore(f.schedule.T, f.image.nbytes)
        seed = f.seed + 1
        self._chain_job.start(lambda cancel: process.chain(seed, cancel))

    def _on_chain_item(self, item: object) -> None:
        if self._chain is None:
            return
        t, frame = item  # type: ignore[misc]
        was_missing = self._chain.at(self.player.timeline.t) is None
        self._chain.add(t, frame)
        if self.view == FORWARD and (t % 50 == 0 or (was_missing and self._chain.at(self.player.timeline.t))):
            self._show()

    def _on_chain_ended(self, status: str, message: str) -> None:
        if status == FAILED:
            self.status.say(f"The chained process stopped: {message}")
        if status == FINISHED:
            if self.view == FORWARD:
                self._show()
            self.chainReady.emit()

    # ================================================================================================ running
    def _prepare_run(self, request: RunRequest) -> PreparedRun:
        """Prepare a run; the window's own run (not a comparison's) also gets a probe for its guidance sizes."""
        prepared = self._prepare(request)
        if self._probing:
            self._probe = GuidanceProbe(prepared)
        return prepared

    def start_run(self) -> None:
        """Freeze the controls and start sampling; a run in progress is cancelled and waited for first."""
        image = self.forward.image if self.forward is not None else None
        try:
            self._probing = True
            info = self.session.start(self.controls.request(image))
        except StudioError as err:
            QMessageBox.warning(self, "Cannot start the run", str(err))
            return
        finally:
            self._probing = False
        self.settings.set_controls(self.controls.state())
        self.following = True
        self._t[REVERSE] = info.timesteps[0]
        self.status.begin(info.steps, f"Sampling with {info.model} ({info.plan.sampler.upper()}, "
                                      f"{info.steps} steps) on {info.device}…")
        self.status.set_device(info.device)
        self.status.set_note(self.session.store.note())
        self.menu_actions.cancel.setEnabled(True)
        self.run_bar.set_running(True)
        self._set_view(REVERSE, force=True)

    def cancel_run(self) -> None:
        if self.session.running:
            self.session.cancel()
            self.status.say("Cancelling after the current step…")

    def _on_run_refreshed(self) -> None:
        """At most once per screen refresh during a run: new frames arrived since the last one.

        The canvas and the timeline follow every refresh; the plot cursor and the maths too while they are cheap
        (on a busy computer every few refreshes, so their share of the GUI thread stays bounded); the progress
        numbers at most ten times a second.
        """
        latest, store = self.session.latest, self.session.store
        now = time.perf_counter()
        slow = now - self._last_slow_update >= SLOW_UPDATE_S
        if slow:
            self._last_slow_update = now
            self.status.progress(self.session.steps_done)
        if self.view != REVERSE:
            return
        self.player.timeline.set_marks(store.timesteps, self.session.info.planned)
        if self.following and latest is not None:
            self.player.timeline.set_t(latest.t)
            self._t[REVERSE] = latest.t
            self._show_reverse(latest.t)
            # the cursor and the maths show the step on screen: at every refresh where they cost little, on a
            # busy computer every few refreshes (their share of the GUI thread stays bounded)
            if now - self._last_secondary >= SECONDARY_SPACING * self._secondary_cost:
                self.plot.set_t(latest.t)
                self._update_maths()
                done = time.perf_counter()
                self._secondary_cost = 0.7 * self._secondary_cost + 0.3 * (done - now)
                self._last_secondary = done

    def _on_run_notice(self, text: str) -> None:
        if self.session.info is not None:
            self.status.set_device(self.session.info.device)
        self.status.say(text)

    def _on_run_ended(self, status: str, message: str) -> None:
        self.menu_actions.cancel.setEnabled(False)
        self.run_bar.set_running(False)
        info, done, kept = self.session.info, self.session.steps_done, len(self.session.store)
        steps = info.steps if info is not None else 0
        if status == FINISHED:
            rate = done / max(self.status.elapsed, 1e-9)
            text = f"Finished {steps} steps in {self.status.elapsed:.1f} s ({rate:.0f} steps/s)."
        elif status == CANCELLED:
            text = f"Cancelled after {done} of {steps} steps; the {kept} recorded frames are kept."
        else:
            text = f"The run stopped: {message}"
        self.status.end(text)
        if self.view == REVERSE:
            self._configure_timeline()
            self._show()
        if status == FAILED:
            QMessageBox.warning(self, "Sampling stopped", message)
        self.runEnded.emit(status, message)

    # ================================================================================================ export
    def export_source(self) -> ExportSource | None:
        """The frames of the view on screen, or None when there is nothing to export."""
        if self.view == REVERSE:
            frames, info = self.session.store.frames, self.session.info
            if not frames or info is None:
                return None
            return reverse_source(frames, info.schedule, run_note(*run_names(info, self.controls)),
                                  self.third_pane.kind)
        f = self.forward
        note = f"{self.image_name} · {f.schedule.describe()} · noise seed {f.seed}" if f is not None else ""
        return None if f is None else forward_source(f.image, f.schedule, f.seed, note)

    def open_export_dialog(self, mode: str = "gif") -> ExportDialog | None:
        source = self.export_source()
        if source is None:
            QMessageBox.information(self, "Nothing to export", "Run the sampler first: there are no frames yet.")
            return None
        if self.view == REVERSE:
            n = run_names(self.session.info, self.controls)
            stem = file_stem(n.model, n.class_name, f"{n.sampler}{n.steps}", f"seed{n.seed}")
        else:
            stem = file_stem(Path(self.image_name or "picture").stem, "forward")
        path = default_export_path(self.settings.get_json("export/last").get("folder"), stem,
                                   ".gif" if mode == "gif" else ".png")
        dialog = ExportDialog(source, mode, path, self.player.timeline.t, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.start_export(source, dialog.request())
        return dialog

    def start_export(self, source: ExportSource, request: ExportRequest) -> bool:
        """Write in the background; ``exportEnded`` tells when. False if an export is already running."""
        if self._export_job.running:
            QMessageBox.information(self, "Export in progress", "Wait for the current export to finish.")
            return False
        self._export_result = None
        self._export_outcome = outcome = ExportOutcome()
        text = f"Writing {request.path.name}…"
        if self.session.running:
            self.status.say(text)  # the progress bar belongs to the run
        else:
            self.status.busy(text)
        self._export_job.start(lambda cancel: run_export(source, request, cancel, outcome))
        return True

    def _on_export_item(self, obj: object) -> None:
        self._export_result = obj

    def _on_export_ended(self, status: str, message: str) -> None:
        result = self._export_result or self._export_outcome.written  # written even if the end says cancelled
        if status == CANCELLED and result is not None:
            status = FINISHED
        if status == FINISHED and isinstance(result, ExportSummary):
            text = (f"Wrote {result.path.name}: {result.frames} frames, {result.bytes / 1e6:.2f} MB, "
                    f"{result.seconds:.1f} s per play.")
            self.settings.set_json("export/last", {"folder": str(result.path.parent)})
        elif status == FINISHED and isinstance(result, Path):
            text = f"Wrote {result.name}."
            self.settings.set_json("export/last", {"folder": str(result.parent)})
        else:
            text = f"Export failed: {message}" if status == FAILED else "Export cancelled."
        if self.session.running:
            self.status.say(text)
        else:
            self.status.end(text)
        if status == FAILED:
            QMessageBox.warning(self, "Export failed", message)
        self.exportEnded.emit(status, message)

    # ================================================================================================ help
    def show_about(self) -> None:
        AboutDialog(self.windowIcon(), self).exec()

    def open_lenses(self) -> None:
        """Spectrum and trajectory lenses of the current settings' run, following the playhead (issue 12)."""
        from diffusion_studio.app.lens_window import open_lenses

        self.lenses = open_lenses(self, getattr(self, "lenses", None))

    def show_explanation(self) -> None:
        dialog = ExplainDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    # ================================================================================================ Qt events
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_image(files[0])

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Stop every worker (cancel, quit, wait; never terminate) and remember the window and controls."""
        self.player.set_playing(False)
        self.session.stop()
        self._chain_job.stop()
        self._export_job.stop()  # an export in progress finishes its (atomic) write first
        self.settings.set_controls(self.controls.state())
        self.settings.set_json("plots/toggles", self.plot.toggle_state())
        self.settings.save_window(self)
        self.settings.sync()
        event.accept()
