"""The main window's log-SNR axis and step placement: one View menu action, kept in step with the schedule dock.

View > Log-SNR Axis (and the "x axis: log-SNR λ" box in the Schedule dock, the same setting, stored with the
curve toggles) lays the schedule plots and the timeline out by lambda = log(abar / (1 - abar)). Both also show where
the sampler calls the model (:func:`diffusion_studio.core.placement.step_placement`): the run on screen in the
Reverse view, otherwise the run the current settings would make.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from diffusion_studio.app.schedule_plot import LOG_SNR_AXIS, T_AXIS
from diffusion_studio.core.placement import Placement, step_placement
from diffusion_studio.errors import StudioError


class StepPlacementLink(QObject):
    """Pushes the axis choice and the placement of the run shown (or about to be run) to the plot and timeline."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.action = QAction("&Log-SNR Axis", window)
        self.action.setCheckable(True)
        self.action.setStatusTip("Lay the schedule plots and the timeline out by log-SNR λ = log(ᾱ/(1−ᾱ)), "
                                 "with each model call of the sampler marked on it")
        self.action.toggled.connect(lambda on: window.plot.set_axis(LOG_SNR_AXIS if on else T_AXIS))
        window.plot.axisChanged.connect(self._on_axis)
        window.controls.changed.connect(self._on_controls)
        self.placement: Placement | None = None

    def _on_axis(self, axis: str) -> None:
        if self.action.isChecked() != (axis == LOG_SNR_AXIS):
            self.action.setChecked(axis == LOG_SNR_AXIS)
        self.refresh()
        w = self.window
        w.plot.set_t(w.player.timeline.t)

    def _on_controls(self) -> None:
        w = self.window
        if w.view != "reverse" or w.session.info is None:
            self.refresh()

    def refresh(self) -> None:
        """Compute the placement of the run in view and show it, on the axis chosen."""
        w = self.window
        info = w.session.info
        if w.view == "reverse" and info is not None:
            plan, schedule = info.plan, info.schedule
        else:
            image = w.forward.image if w.forward is not None else None
            plan, schedule = w.controls.request(image).plan, w.controls.schedule()
        try:
            self.placement = step_placement(plan, schedule)
        except StudioError:  # settings a run would refuse (e.g. more steps than T): nothing to place
            self.placement = None
        w.plot.set_placement(self.placement)
        timeline = w.player.timeline
        timeline.set_axis(schedule.log_snr if w.plot.axis == LOG_SNR_AXIS else None)
        timeline.set_placement(self.placement)


def install_step_placement(window) -> StepPlacementLink:
    """Add View > Log-SNR Axis (before the dock toggles, or at the end of View) and link it."""
    link = StepPlacementLink(window)
    for menu_action in window.menuBar().actions():
        if menu_action.menu() is not None and menu_action.text().replace("&", "") == "View":
            menu = menu_action.menu()
            separators = [a for a in menu.actions() if a.isSeparator()]
            if separators:
                menu.insertAction(separators[-1], link.action)
            else:
                menu.addAction(link.action)
            break
    else:
        window.addAction(link.action)
    return link
