"""Playhead keys that work wherever the focus is in the window: Space plays/pauses, ← → step, PgUp/PgDn step
by ten, Home/End jump to the ends. Window-wide QShortcuts are matched before the focused widget sees the key, so
a button that was just clicked (Run, say) never takes Space. Text fields keep their keys: a line edit or spin box
claims its editing keys itself (Qt's ShortcutOverride), and any other key that reaches a shortcut while a text
field has the focus stays with it: the shortcuts are switched off while a text field has the focus."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit, QTextEdit, QWidget

from diffusion_studio.app.player import PlayerBar

TEXT_FIELDS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)


def _is_text_field(widget: QWidget | None) -> bool:
    while widget is not None:
        if isinstance(widget, TEXT_FIELDS):
            return True
        widget = widget.parentWidget() if isinstance(widget.parentWidget(), QAbstractSpinBox) else None
    return False


def install_playhead_keys(window: QWidget, player: PlayerBar) -> list[QShortcut]:
    """Create the shortcuts on ``window`` (kept alive by their parent); returns them for tests."""
    timeline = player.timeline

    def to_end(last: bool) -> None:
        order = timeline.positions()
        if order:
            timeline.set_t(order[-1 if last else 0], emit=True)

    keys: dict[Qt.Key, Callable[[], None]] = {
        Qt.Key.Key_Space: player.play_button.toggle,
        Qt.Key.Key_Right: lambda: timeline.step(1),
        Qt.Key.Key_Left: lambda: timeline.step(-1),
        Qt.Key.Key_PageDown: lambda: timeline.step(10),
        Qt.Key.Key_PageUp: lambda: timeline.step(-10),
        Qt.Key.Key_Home: lambda: to_end(False),
        Qt.Key.Key_End: lambda: to_end(True),
    }
    made = []
    for key, action in keys.items():
        shortcut = QShortcut(QKeySequence(key), window)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.setAutoRepeat(key != Qt.Key.Key_Space)
        shortcut.activated.connect(action)
        made.append(shortcut)

    def on_focus(_old: QWidget | None, new: QWidget | None) -> None:
        enabled = not _is_text_field(new)  # e.g. PgUp in a spin box: the field's own meaning wins
        for shortcut in made:
            shortcut.setEnabled(enabled)

    app = QApplication.instance()
    app.focusChanged.connect(on_focus)
    window.destroyed.connect(lambda: app.focusChanged.disconnect(on_focus))
    return made
