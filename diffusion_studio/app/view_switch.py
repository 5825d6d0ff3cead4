"""A two-button Forward | Reverse switch: both view names always visible, never a tab row that scrolls."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget

VIEWS = (
    ("forward", "Forward: add noise", "The forward process q(x_t | x_0): your picture dissolving into noise (Ctrl+1)"),
    ("reverse", "Reverse: denoise", "The reverse process p_θ(x_(t-1) | x_t): a model removes the noise (Ctrl+2)"),
)
STYLE = """
QToolButton { padding: 3px 10px; border: 1px solid palette(mid); background: palette(button); }
QToolButton:checked { background: #d3e5fa; color: #0b2e59; border-color: #3d8fe0; font-weight: bold; }
QToolButton#first { border-top-left-radius: 4px; border-bottom-left-radius: 4px; }
QToolButton#last { border-top-right-radius: 4px; border-bottom-right-radius: 4px; border-left: none; }
"""


class ViewSwitch(QWidget):
    """Exclusive checkable buttons; ``viewChosen(name)`` fires only for the person's own clicks."""

    viewChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(STYLE)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for i, (name, text, tip) in enumerate(VIEWS):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space belongs to the playhead, not to this button
            button.setObjectName("first" if i == 0 else "last")
            button.setAccessibleName(text)
            self.group.addButton(button, i)
            layout.addWidget(button)
            self.buttons[name] = button
        self.buttons["forward"].setChecked(True)
        self.group.idClicked.connect(lambda i: self.viewChosen.emit(VIEWS[i][0]))

    def set_view(self, name: str) -> None:
        """Show ``name`` as chosen without emitting ``viewChosen``."""
        blocked = self.group.blockSignals(True)
        self.buttons[name].setChecked(True)
        self.group.blockSignals(blocked)

    def view(self) -> str:
        return VIEWS[max(self.group.checkedId(), 0)][0]

    def currentIndex(self) -> int:  # noqa: N802 - the QTabBar name it replaces, kept for callers and tests
        return max(self.group.checkedId(), 0)
