"""The main window's hook into the compare window: two Run menu actions and what they need.

Run > Compare and Branch… opens :class:`CompareWindow` on the main window's current settings; Run > Branch from
Here branches the main window's own run from the step on its playhead, using its recorded frames as the trunk.
"""

from __future__ import annotations

import torch
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from diffusion_studio.app.compare_view import CompareWindow
from diffusion_studio.session.frames import FINAL_T, StepFrames
from diffusion_studio.session.request import PreparedRun, RunRequest
from diffusion_studio.session.run import Run


class _CloseWith(QObject):
    """Closes the compare window when the main window closes (so its worker thread is stopped and waited for)."""

    def __init__(self, owner: QWidget, follower: QWidget) -> None:
        super().__init__(owner)
        self.follower = follower

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Close:
            self.follower.close()
        return False


def install_compare(window) -> QAction:
    """The main window's hook: Run > Compare and Branch… (this window on the current settings) and Run > Branch
    from Here (branches of the main window's run from the step on its playhead). It also notes which prepared run
    the main window last started, since its frames alone do not say which model made them."""
    session = window.session
    plain_prepare = session.prepare

    def remembering(request: RunRequest) -> PreparedRun:
        prepared = plain_prepare(request)
        window.compare_trunk_source = prepared
        return prepared

    session.prepare = remembering
    window.compare_prepare = plain_prepare
    action = QAction("Compare and &Branch…", window)
    action.setShortcut(QKeySequence("Ctrl+Shift+R"))
    action.setStatusTip("Runs from the same noise side by side, seed grids, branches from a step")
    action.triggered.connect(lambda: open_compare(window))
    here = QAction("Branch from &Here", window)
    here.setShortcut(QKeySequence("Ctrl+Shift+B"))
    here.setStatusTip("Continue the run on screen from the step on the playhead, several times with fresh noise")
    here.triggered.connect(lambda: branch_from_main(window))
    for menu_action in window.menuBar().actions():
        if menu_action.menu() is not None and menu_action.text().replace("&", "") == "Run":
            menu_action.menu().addActions([action, here])
            break
    else:
        window.addActions([action, here])
    return action


def open_compare(window) -> CompareWindow:
    """Open (or raise) the compare window with the main window's current settings as the base."""
    image = window.forward.image if window.forward is not None else None
    base = window.controls.request(image)
    view: CompareWindow | None = getattr(window, "compare_window", None)
    if view is None:
        store = getattr(window.session, "store", None)
        prepare = getattr(window, "compare_prepare", window.session.prepare)
        view = CompareWindow(base, prepare, window, getattr(store, "budget", None))
        window.installEventFilter(_CloseWith(window, view))
        window.compare_window = view
        choice = getattr(window, "third_pane", None)  # View > Right Pane: the compare window follows it
        if choice is not None:
            view.set_third(choice.kind.value)
            choice.changed.connect(view.set_third)
    view.base = base
    view.show()
    view.raise_()
    return view


def trunk_from_frames(prepared: PreparedRun, frames: list[StepFrames], label: str) -> Run:
    """A :class:`Run` of frames the main window recorded: their pictures, and x_t wherever the frame still holds
    the sampler's own tensor (a CPU run within the memory budget), which is where branches can start."""
    steps = [f for f in frames if f.t != FINAL_T]
    final = next((f for f in frames if f.t == FINAL_T), None)
    run = Run(prepared, label, steps=[f.compact() for f in steps], final=None if final is None else final.compact(),
              seed=int(prepared.plan.seed), done=steps[-1].index + 1 if steps else 0)
    g = prepared.plan.guidance
    per_step = 2 if g.label is not None and g.cfg_scale not in (0.0, 1.0) else 1  # one picture, DDPM/DDIM
    run.model_calls = run.done * per_step
    for f in steps:
        x = f.tensor(0)
        if x is not None:
            run._x_float[f.index] = x.detach().to("cpu", torch.float32).clone()
    return run


def branch_from_main(window) -> CompareWindow | None:
    """Branch the main window's finished (or cancelled) run from the step on its playhead, in the compare window."""
    prepared: PreparedRun | None = getattr(window, "compare_trunk_source", None)
    frames = window.session.store.frames
    why = ""
    if window.view != "reverse" or prepared is None or not frames:
        why = "Run first: branches continue the run on screen in the Reverse view."
    elif window.session.running:
        why = "Wait for the run to finish (or cancel it), then branch."
    elif prepared.plan.batch != 1:
        why = "Branches continue one picture; run with a batch of 1."
    t = window.player.timeline.t
    trunk = None if why else trunk_from_frames(prepared, frames, "the main window's run")
    if trunk is not None and not trunk.branch_points():
        why = ("This run's steps were kept as pictures only (GPU or memory limit), so there is no exact x_t to "
               "branch from; use Compare and Branch… to run it again there.")
    if why:
        window.statusBar().showMessage(why, 8000)
        return None
    view = open_compare(window)
    view._runs, view.branches, view._columns, view._match = [trunk], None, None, "t"
    view._show_group()
    point = min(trunk.branch_points(), key=lambda i: abs(trunk.timesteps[i] - t))
    view.set_position(view.playhead.index(trunk.timesteps[point]))
    view._set_running(False)
    view.branch_here()
    return view
