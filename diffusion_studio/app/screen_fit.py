"""Where a new window may go: the free desktop area of the screen it opens on (laptops first)."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget


def free_desktop(parent: QWidget | None) -> QRect:
    """The available geometry (without panels and docks) of ``parent``'s screen, or of the primary screen."""
    screen = parent.screen() if parent is not None else QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1920, 1080)


def fit_size(widget: QWidget, width: int, height: int, free: QRect, margin: int = 40) -> None:
    """Resize ``widget`` to ``width`` x ``height``, or less where the free desktop is smaller."""
    widget.resize(min(width, free.width() - margin), min(height, free.height() - margin))
