"""The Lenses window: spectrum and trajectory of the run on screen, following the main window's playhead.

The window's frame store keeps uint8 pictures, clipped to the display range; the lenses need the float tensors, so
this window reruns the same request (same seed, hence the same steps) on its own background job and keeps float16
copies of x_t, x0-hat and eps-hat of the first image. The spectrum is computed for the step shown only (and
cached); the PCA once, when the run has ended.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from diffusion_studio.app.lens_spectrum import SpectrumPanel
from diffusion_studio.app.lens_trajectory import TrajectoryPanel
from diffusion_studio.app.worker import FINISHED, BackgroundJob
from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.lens_spectrum import StepSpectrum, step_spectrum
from diffusion_studio.core.lens_trajectory import trajectory_pca


@dataclass(frozen=True)
class LensFrame:
    """One step of the run, as the lenses need it (CPU, float16, first image of the batch)."""

    t: int
    alpha_bar: float
    x_t: torch.Tensor
    x0: torch.Tensor
    eps: torch.Tensor
    x_prev: torch.Tensor


def lens_frames(request, cancel: CancelToken) -> Iterator[LensFrame]:
    """Prepare ``request`` (a RunRequest) and run it, yielding a :class:`LensFrame` per step."""
    from diffusion_studio.core.plan import run_plan
    from diffusion_studio.runs import prepare_run

    prepared = prepare_run(request)
    steps = run_plan(prepared.model, prepared.schedule, prepared.plan, prepared.shape, prepared.init,
                     prepared.device, cancel)
    for s in steps:
        def keep(x: torch.Tensor) -> torch.Tensor:
            return x[0].detach().to("cpu", torch.float16)

        yield LensFrame(s.t, s.abar(prepared.schedule), keep(s.x_t), keep(s.x0_pred), keep(s.eps_pred), keep(s.x_prev))


class LensWindow(QWidget):
    """A tool window with the spectrum and trajectory panels; :meth:`show_t` follows the playhead."""

    updated = Signal()  # for tests: the panels show new data

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool)
        self.setWindowTitle("Lenses: spectrum and trajectory")
        self.resize(1200, 420)
        self.status = QLabel("No run yet.")
        self.status.setWordWrap(True)
        self.spectrum = SpectrumPanel()
        self.trajectory = TrajectoryPanel()
        split = QSplitter()
        split.addWidget(self.spectrum)
        split.addWidget(self.trajectory)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        self.frames: list[LensFrame] = []
        self._neg_ts: list[int] = []
        self._cache: dict[int, StepSpectrum] = {}
        self._t = 0
        self._job = BackgroundJob("lenses", self)
        self._job.item.connect(self._on_frame)
        self._job.ended.connect(self._on_ended)

    def load(self, request) -> None:
        """Rerun ``request`` for the lenses (stopping any earlier one)."""
        self._job.stop()
        self.frames, self._neg_ts, self._cache = [], [], {}
        self.trajectory.set_trajectories(None)
        self.spectrum.show_spectrum(None)
        self.status.setText("Recomputing the run on screen for the lenses (same settings, same seed)…")
        self._job.start(lambda cancel: lens_frames(request, cancel))

    def _on_frame(self, frame: LensFrame) -> None:
        self.frames.append(frame)
        self._neg_ts.append(-frame.t)
        if len(self.frames) == 1 or frame.t >= self._t:
            self.show_t(self._t)

    def _on_ended(self, status: str, message: str) -> None:
        if status != FINISHED:
            self.status.setText(message or "The lens run was stopped.")
            return
        x_t = torch.stack([f.x_t for f in self.frames] + [self.frames[-1].x_prev]).float()
        x0 = torch.stack([f.x0 for f in self.frames]).float()
        self.trajectory.set_trajectories({"x_t": trajectory_pca([x_t]), "x0": trajectory_pca([x0])})
        self.status.setText(f"{len(self.frames)} steps. Spectrum at the step on screen; trajectory of the whole run "
                            "(the big dots follow the playhead).")
        self.show_t(self._t)

    def index_for(self, t: int) -> int:
        """The recorded step at (or the first after) timestep t; the finished picture (t < 0) is the last."""
        if not self.frames:
            return -1
        if t < 0:
            return len(self.frames)
        return min(bisect.bisect_left(self._neg_ts, -t), len(self.frames) - 1)

    def show_t(self, t: int) -> None:
        self._t = int(t)
        i = self.index_for(self._t)
        if i < 0:
            return
        self.trajectory.mark(i)
        j = min(i, len(self.frames) - 1)
        if j not in self._cache:
            f = self.frames[j]
            self._cache[j] = step_spectrum(f.x_t.float()[None], f.x0.float()[None], f.eps.float()[None], f.alpha_bar)
        f = self.frames[j]
        final = " (last step)" if i == len(self.frames) else ""
        self.spectrum.show_spectrum(self._cache[j], f"t = {f.t}, abar = {f.alpha_bar:.3g}{final}")
        self.updated.emit()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._job.stop()
        super().closeEvent(event)


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
