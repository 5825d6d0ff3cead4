"""The Lenses window: spectrum and trajectory of the run on screen, following the main window's playhead.

The window's frame store keeps uint8 pictures, clipped to the display range; the lenses need the float tensors, so
this window reruns the same request (same seed, hence the same steps) on its own background job and keeps float16
copies of x_t, x0-hat and eps-hat of the first image. The spectrum is computed for the step shown only (and
cached per step of the run); the PCA once, by the background job as soon as the run has ended (before the error
lens's reference run), so the GUI thread only draws it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import torch
from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from diffusion_studio.app.lens_cfg import CfgDeltaPanel
from diffusion_studio.app.lens_error import ErrorPanel
from diffusion_studio.app.lens_spectrum import SpectrumPanel
from diffusion_studio.app.lens_trajectory import TrajectoryPanel
from diffusion_studio.app.screen_fit import fit_size, free_desktop
from diffusion_studio.app.worker import FINISHED, BackgroundJob
from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.lens_error import ErrorCurve, error_curve
from diffusion_studio.core.lens_spectrum import StepSpectrum, step_spectrum
from diffusion_studio.core.lens_trajectory import TrajectoryPCA, trajectory_pca

MAX_ERROR_STEPS = 200  # the reference costs about 2 x ERROR_SUBSTEPS model calls per step
ERROR_SUBSTEPS = 4


@dataclass(frozen=True)
class LensFrame:
    """One step of the run, as the lenses need it (CPU, float16, first image of the batch)."""

    t: int
    alpha_bar: float
    x_t: torch.Tensor
    x0: torch.Tensor
    eps: torch.Tensor
    x_prev: torch.Tensor
    cfg_delta: torch.Tensor | None = None


@dataclass(frozen=True)
class TrajectoryFits:
    """The run's x_t path (its steps and the finished picture) and its x0-hat path, each on its own first two
    principal components."""

    x_t: TrajectoryPCA
    x0: TrajectoryPCA


def fit_paths(x_t: Sequence[torch.Tensor], x0: Sequence[torch.Tensor]) -> TrajectoryFits:
    """PCA of the two paths of one image, frames (C, H, W) in run order (see :func:`trajectory_pca`)."""
    return TrajectoryFits(trajectory_pca([torch.stack(list(x_t))]), trajectory_pca([torch.stack(list(x0))]))


def _keep(x: torch.Tensor) -> torch.Tensor:
    return x[0].detach().to("cpu", torch.float16)


def lens_frames(request, cancel: CancelToken) -> Iterator[LensFrame | TrajectoryFits | ErrorCurve | str]:
    """Prepare ``request`` (a RunRequest) and run it, yielding a :class:`LensFrame` per step; then the trajectory
    fits of the first image (full precision); then its error curve against its reference (or a sentence saying why
    there is none)."""
    from diffusion_studio.core.plan import run_plan
    from diffusion_studio.runs import prepare_run

    prepared = prepare_run(request)
    sched = prepared.schedule
    steps = run_plan(prepared.model, sched, prepared.plan, prepared.shape, prepared.init, prepared.device, cancel)
    first = []  # the first image's steps, for the error lens
    for s in steps:
        delta = None if s.cfg_delta is None else _keep(s.cfg_delta)
        yield LensFrame(s.t, s.abar(sched), _keep(s.x_t), _keep(s.x0_pred), _keep(s.eps_pred), _keep(s.x_prev), delta)
        first.append(replace(s, x_t=s.x_t[:1], x0_pred=s.x0_pred[:1], eps_pred=s.eps_pred[:1], x_prev=s.x_prev[:1]))
    if cancel.cancelled or not first:
        return
    yield fit_paths([s.x_t[0] for s in first] + [first[-1].x_prev[0]], [s.x0_pred[0] for s in first])
    if cancel.cancelled:
        return
    if len(first) > MAX_ERROR_STEPS:
        yield f"error vs reference: runs of at most {MAX_ERROR_STEPS} steps ({len(first)} here)"
        return
    guidance = replace(prepared.plan.with_guidance_interval(), classifier=None, classifier_scale=0.0)
    yield error_curve(prepared.model, sched, first, guidance=guidance, substeps=ERROR_SUBSTEPS)


class LensWindow(QWidget):
    """A tool window with the spectrum and trajectory panels; :meth:`show_t` follows the playhead."""

    updated = Signal()  # for tests: the panels show new data

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool)
        self.setWindowTitle("Lenses: spectrum and trajectory")
        self.status = QLabel("No run yet.")
        self.status.setWordWrap(True)
        self.spectrum = SpectrumPanel()
        self.trajectory = TrajectoryPanel()
        self.error = ErrorPanel()
        self.cfg = CfgDeltaPanel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self._arrange(free_desktop(parent)), 1)
        self.frames: list[LensFrame] = []
        self._neg_ts: list[int] = []
        self._cache: dict[int, StepSpectrum] = {}
        self._t = 0
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self._flush)
        self._dirty = False  # a move (or a new frame) came while the pass's update was already made
        self._job = BackgroundJob("lenses", self)
        self._job.item.connect(self._on_frame)
        self._job.ended.connect(self._on_ended)

    def _arrange(self, free: QRect) -> QSplitter:
        """Four panels in a row on a wide desktop; on a laptop two rows of two, so nothing is cut off the screen."""
        panels = (self.spectrum, self.trajectory, self.error, self.cfg)
        if free.width() >= WIDE_ENOUGH:
            fit_size(self, 1700, 420, free)
            return _split(Qt.Orientation.Horizontal, *panels)
        fit_size(self, free.width(), 760, free)
        top = _split(Qt.Orientation.Horizontal, self.spectrum, self.trajectory)
        third = self.width() // 3
        top.setSizes([third, 2 * third])  # the trajectory panel holds two plots
        return _split(Qt.Orientation.Vertical, top, _split(Qt.Orientation.Horizontal, self.error, self.cfg))

    def load(self, request) -> None:
        """Rerun ``request`` for the lenses (stopping any earlier one)."""
        self._job.stop()
        self.frames, self._neg_ts, self._cache = [], [], {}
        self.trajectory.set_trajectories(None)
        self.spectrum.show_spectrum(None)
        self.error.set_curve(None)
        self.cfg.set_range([])
        self.status.setText("Recomputing the run on screen for the lenses (same settings, same seed)…")
        self._job.start(lambda cancel: lens_frames(request, cancel))

    def _on_frame(self, frame: LensFrame | TrajectoryFits | ErrorCurve | str) -> None:
        if isinstance(frame, TrajectoryFits):  # the run is recorded
            self.cfg.set_range([f.cfg_delta for f in self.frames])
            self.trajectory.set_trajectories({"x_t": frame.x_t, "x0": frame.x0})
            self.status.setText(f"{len(self.frames)} steps recorded; computing the reference run for the error "
                                "lens…")
            self.show_t(self._t)
            return
        if isinstance(frame, (ErrorCurve, str)):  # the error lens comes last
            if isinstance(frame, str):
                self.error.set_curve(None, frame)
            else:
                self.error.set_curve(frame)
            self.show_t(self._t)
            return
        if not self.frames:
            self.status.setText("Recording the run; then the trajectory, then the reference run for the error…")
        self.frames.append(frame)
        self._neg_ts.append(-frame.t)
        if len(self.frames) == 1 or frame.t >= self._t:
            self.show_t(self._t)

    def _on_ended(self, status: str, message: str) -> None:
        if status != FINISHED:
            self.status.setText(message or "The lens run was stopped.")
            return
        self.status.setText(f"{len(self.frames)} steps. Spectrum at the step on screen; trajectory and error of the "
                            "whole run (the big dots follow the playhead).")
        self.show_t(self._t)

    def index_for(self, t: int) -> int:
        """The recorded step at (or the first after) timestep t; the finished picture (t < 0) is the last."""
        if not self.frames:
            return -1
        if t < 0:
            return len(self.frames)
        return min(bisect.bisect_left(self._neg_ts, -t), len(self.frames) - 1)

    def show_t(self, t: int) -> None:
        """Follow the playhead. The first move after a quiet spell updates the panels at once (their repaint then
        joins the main window's picture); later moves in the same event-loop pass only note the newest position,
        which one update shows when the pass is over (a burst of moves costs two updates, not one per move). A
        closed window does nothing until it is shown again."""
        self._t = int(t)
        if self._pending.isActive() or not self.isVisible():  # a closed window catches up when shown again
            self._dirty = True
        else:
            self._apply()
            self._pending.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._dirty:
            self._pending.start()

    def _flush(self) -> None:
        if self._dirty:
            self._apply()

    def _apply(self) -> None:
        self._dirty = False
        i = self.index_for(self._t)
        if i < 0:
            return
        self.trajectory.mark(i)
        self.error.mark(i)
        j = min(i, len(self.frames) - 1)
        f = self.frames[j]
        final = " (last step)" if i == len(self.frames) else ""
        self.spectrum.show_spectrum(self.spectrum_of(j), f"t = {f.t}, ᾱ = {f.alpha_bar:.3g}{final}")
        self.cfg.show_delta(f.cfg_delta, f.t)
        self.updated.emit()

    def spectrum_of(self, j: int) -> StepSpectrum:
        """The spectrum of recorded step ``j`` of this run: computed the first time it is shown, then cached."""
        sp = self._cache.get(j)
        if sp is None:
            f = self.frames[j]
            sp = self._cache[j] = step_spectrum(f.x_t.float()[None], f.x0.float()[None], f.eps.float()[None],
                                                f.alpha_bar)
        return sp

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._job.stop()
        super().closeEvent(event)


def _split(orientation: Qt.Orientation, *widgets: QWidget) -> QSplitter:
    split = QSplitter(orientation)
    for widget in widgets:
        split.addWidget(widget)
    return split


WIDE_ENOUGH = 1600  # px of free desktop for the four panels side by side (the trajectory panel holds two plots)


def open_lenses(window, lenses: LensWindow | None) -> LensWindow:
    """Open (or reuse) the Lenses window for ``window``'s current settings, linked to its playhead."""
    if lenses is None:
        lenses = LensWindow(window)
        window.player.positionChanged.connect(lenses.show_t)
    image = window.forward.image if window.forward is not None else None
    lenses.show_t(window.player.timeline.t)
    lenses.load(window.controls.request(image))
    lenses.show()
    lenses.raise_()
    return lenses
