"""What the reverse view's third pane shows: predicted noise ε̂, predicted velocity v̂, or the flow velocity ε̂ − x̂₀.

A radio group in View > Right Pane and a small combo in the run bar, kept in step; the choice is remembered in the
settings. The window asks :meth:`ThirdPaneChoice.pane` what to paint and :meth:`ThirdPaneChoice.annotate` for the
maths panel's flow section; the values are derived from each frame's x̂₀ and ε̂ when painted
(:mod:`diffusion_studio.session.third_pane`), so nothing more is recorded during a run.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QWidget

from diffusion_studio.app.maths_panel import MathsState
from diffusion_studio.app.readout import RawSource, frame_readout
from diffusion_studio.app.settings import Settings
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.errors import OptionError
from diffusion_studio.session.flow_check import FlowNumbers, flow_numbers
from diffusion_studio.session.frame_store import FrameStore
from diffusion_studio.session.frames import StepFrames
from diffusion_studio.session.third_pane import TEXTS, ThirdPane, pane_picture, pixel_values

SETTINGS_KEY = "view/panes"
MUTED = "<span style='color:#9aa0a6'>{}</span>"
# upright Latin letters with a combining hat lose the hat in common sans fonts (DejaVu): the rich-text titles set
# v-hat and x-hat in italics (as the maths does), the plain-text menu and combo avoid them
HEADS = {ThirdPane.EPS: "ε̂<sub>θ</sub>", ThirdPane.V: "<i>v̂</i>", ThirdPane.FLOW: "ε̂ − <i>x̂</i><sub>0</sub>"}
NOTES = {ThirdPane.EPS: "predicted noise", ThirdPane.V: "predicted v", ThirdPane.FLOW: "flow velocity"}
MENU = {ThirdPane.EPS: "Predicted &Noise ε̂", ThirdPane.V: "Predicted &Velocity v (v-prediction)",
        ThirdPane.FLOW: "&Flow Velocity: ε̂ minus the predicted x₀"}
COMBO = {ThirdPane.EPS: "predicted ε̂", ThirdPane.V: "predicted v", ThirdPane.FLOW: "flow velocity"}


@dataclass(frozen=True)
class PaneView:
    """Everything the canvas needs for the third pane of one frame."""

    title: str  # rich text
    name: str  # the readout's
    tip: str
    value_range: tuple[float, float]
    picture: np.ndarray | None
    raw: RawSource | None


class ThirdPaneChoice(QObject):
    """The choice and its two controls; ``changed(name)`` fires when the person picks another."""

    changed = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        try:
            self.kind = ThirdPane.parse(settings.get_json(SETTINGS_KEY).get("third", "eps"))
        except OptionError:
            self.kind = ThirdPane.EPS
        self.menu = QMenu("Right &Pane (Reverse View)", parent)
        self.menu.setToolTipsVisible(True)
        group = QActionGroup(self)
        self.actions: dict[ThirdPane, QAction] = {}
        self.combo = QComboBox(parent)
        self.combo.setObjectName("third-pane")
        self.combo.setToolTip("What the reverse view's right pane shows (View > Right Pane)")
        self.combo.setAccessibleName("Right pane")
        for kind in ThirdPane:
            action = QAction(MENU[kind], self)
            action.setCheckable(True)
            action.setToolTip(rich_tip(TEXTS[kind].tip))
            action.setStatusTip(TEXTS[kind].tip)
            action.triggered.connect(lambda _=False, k=kind: self.set_kind(k))
            group.addAction(action)
            self.menu.addAction(action)
            self.actions[kind] = action
            self.combo.addItem(COMBO[kind], kind.value)
            self.combo.setItemData(self.combo.count() - 1, rich_tip(TEXTS[kind].tip), Qt.ItemDataRole.ToolTipRole)
        self.combo.activated.connect(lambda i: self.set_kind(self.combo.itemData(i)))
        self.label: QLabel | None = None  # the run bar's "Right pane:" (install_third_pane)
        self._sync()

    def set_kind(self, kind: ThirdPane | str) -> None:
        """Show ``kind`` from now on (remembered in the settings); emits ``changed`` when it differs."""
        kind = ThirdPane.parse(kind)
        if kind is self.kind:
            self._sync()
            return
        self.kind = kind
        self._sync()
        self.settings.set_json(SETTINGS_KEY, {"third": kind.value})
        self.changed.emit(kind.value)

    def _sync(self) -> None:
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(self.combo.findData(self.kind.value))
        self.actions[self.kind].setChecked(True)

    def set_enabled(self, on: bool) -> None:
        self.combo.setEnabled(on)
        self.menu.setEnabled(on)

    # ------------------------------------------------------------------------------------------------ painting
    def pane(self, frame: StepFrames | None, schedule: Schedule | None, hint: str = "") -> PaneView:
        """Title, readout name, tip, range, picture and raw values of the third pane for ``frame``."""
        kind, text = self.kind, TEXTS[self.kind]
        tip = rich_tip(text.tip)
        if frame is None:
            return PaneView(f"{HEADS[kind]} " + MUTED.format(hint or NOTES[kind]), text.name, tip,
                            text.value_range, None, None)
        abar = _schedule_abar(frame, schedule)
        note = "of the last step" if frame.is_final else NOTES[kind]
        return PaneView(f"{HEADS[kind]} " + MUTED.format(note), text.name, tip, text.value_range,
                        pane_picture(frame, kind, abar), self._readout(frame, abar))

    def _readout(self, frame: StepFrames, abar: float | None) -> RawSource:
        base, kind = frame_readout(frame), self.kind
        if kind is ThirdPane.EPS:
            return base
        held = weakref.ref(frame)  # as frame_readout: never keep a frame (and its store's block) alive

        def at(row: int, col: int) -> list[np.ndarray | None]:
            values = list(base(row, col))
            frame = held()
            values[2] = None if frame is None else pixel_values(frame, kind, row, col, abar)
            return values

        return at

    # ------------------------------------------------------------------------------------------------ maths
    def annotate(self, state: MathsState, store: FrameStore | None) -> MathsState:
        """The maths state with the flow section's numbers (and, from a run's frames, the Euler check)."""
        if not state.reverse or state.t < 0:
            return replace(state, third=self.kind.value)
        s = state.schedule
        abar_t = float(s.alpha_bars[state.t])
        abar_prev = 1.0 if state.t_prev < 0 else float(s.alpha_bars[state.t_prev])
        frame = after = None
        if store is not None:
            i = store.nearest(state.t)
            frames = store.frames  # taken after: a run in progress only adds frames (a restart empties it)
            if i is not None and i < len(frames) and frames[i].t == state.t:
                frame = frames[i]
                after = frames[i + 1] if i + 1 < len(frames) else None
        if frame is None:
            return replace(state, flow=FlowNumbers(abar_t, abar_prev), third=self.kind.value)
        return replace(state, flow=flow_numbers(frame, after, abar_t, abar_prev), third=self.kind.value)


def rich_tip(tip: str) -> str:
    """A tooltip as rich text, so it wraps and its v-hat and x-hat keep their hats (set in italics)."""
    return "<p>" + tip.replace("v̂", "<i>v̂</i>").replace("x̂", "<i>x̂</i>") + "</p>"


def _schedule_abar(frame: StepFrames, schedule: Schedule | None) -> float | None:
    """abar_t of the schedule for a frame that does not carry its own noise level."""
    if frame.pred_abar is not None or schedule is None or frame.t < 0:
        return None
    return float(schedule.alpha_bars[frame.t])


def install_third_pane(window) -> ThirdPaneChoice:
    """The main window's hook: View > Right Pane, the combo after Cancel in the run bar, enabled in the reverse
    view; a change repaints (the window connects ``changed``)."""
    choice = ThirdPaneChoice(window.settings, window)
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == "View":
            menu = action.menu()
            menu.insertMenu(menu.actions()[2], choice.menu)  # after the Forward and Reverse views
            break
    bar = window.run_bar
    label = QLabel(" Right pane: ")
    label.setToolTip(choice.combo.toolTip())
    after = next((a for a in bar.actions() if bar.widgetForAction(a) is bar.cancel_button), None)
    index = bar.actions().index(after) + 1 if after is not None else len(bar.actions())
    before = bar.actions()[index] if index < len(bar.actions()) else None
    for widget in (label, choice.combo):
        if before is None:
            bar.addWidget(widget)
        else:
            bar.insertWidget(before, widget)
    choice.label = label
    window.viewChanged.connect(lambda view: choice.set_enabled(view == "reverse"))
    choice.set_enabled(window.view == "reverse")
    return choice
