"""The fixed bar at the top of the window: the Forward | Reverse switch, Run and Cancel, and the forward view's
tools. It is a non-movable toolbar spanning the window, so Run is visible at every window size (never at the
bottom of the scrolled Controls dock). Its buttons take no keyboard focus: Space always plays the timeline."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QSizePolicy, QToolBar, QToolButton, QWidget

from diffusion_studio.app.view_switch import ViewSwitch

RUN_STYLE = ("QToolButton { font-weight: bold; padding: 3px 14px; border-radius: 4px; border: 1px solid #2e7d32; "
             "background: #d5efd6; color: #123d14; } QToolButton:hover { background: #bfe5c1; } "
             "QToolButton:disabled { background: palette(button); color: palette(mid); }")


def _button(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setAccessibleName(text.strip(" ▶■"))
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


class RunBar(QToolBar):
    """View switch, Run, Cancel, then the chained-process toggle, Resample noise and Reset zoom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Run", parent)
        self.setObjectName("run-bar")
        self.setMovable(False)
        self.setFloatable(False)
        self.toggleViewAction().setVisible(False)  # the bar cannot be hidden: Run must stay reachable
        self.view_switch = ViewSwitch()
        self.run_button = _button("Run  ▶", "Sample with these settings (Ctrl+R); a new run replaces the one "
                                             "in progress")
        self.run_button.setStyleSheet(RUN_STYLE)
        self.cancel_button = _button("Cancel", "Stop the run after the current step (Esc); the frames so far "
                                               "are kept")
        self.cancel_button.setEnabled(False)
        self.chain_check = QCheckBox("Chained one-step process")
        self.chain_check.setToolTip("Add noise one step at a time, q(x_t | x_(t-1)), next to the closed form")
        self.chain_check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.resample_button = _button("Resample noise", "Draw a new ε for the forward view (Ctrl+N)")
        self.zoom_button = _button("Reset zoom", "Fit the whole picture in the panes (Ctrl+0)")
        self.addWidget(self.view_switch)
        self.addSeparator()
        self.addWidget(self.run_button)
        self.addWidget(self.cancel_button)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        for w in (self.chain_check, self.resample_button, self.zoom_button):
            self.addWidget(w)

    def set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
