"""What the window remembers between launches (QSettings named after the app id)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from diffusion_studio import APP_ID

ORGANISATION, APPLICATION = APP_ID.rsplit(".", 1)
MAX_RECENT = 8


class Settings:
    """Typed access to the stored values; ``path`` gives a private INI file (tests use one)."""

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            self._s = QSettings(ORGANISATION, APPLICATION)
        else:
            self._s = QSettings(str(path), QSettings.Format.IniFormat)

    def sync(self) -> None:
        self._s.sync()

    # ----------------------------------------------------------------------------------------------- folders
    def last_folder(self) -> str:
        folder = str(self._s.value("files/last_folder", "") or "")
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def set_last_folder(self, folder: str | Path) -> None:
        self._s.setValue("files/last_folder", str(Path(folder).resolve()))

    def recent_files(self) -> list[str]:
        raw = self._s.value("files/recent", "[]")
        try:
            items = json.loads(raw) if isinstance(raw, str) else list(raw or [])
        except json.JSONDecodeError:
            items = []
        return [str(p) for p in items][:MAX_RECENT]

    def add_recent(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        items = [path, *(p for p in self.recent_files() if p != path)][:MAX_RECENT]
        self._s.setValue("files/recent", json.dumps(items))

    def clear_recent(self) -> None:
        self._s.setValue("files/recent", "[]")

    # ----------------------------------------------------------------------------------------------- window
    def save_window(self, window: QMainWindow) -> None:
        self._s.setValue("window/geometry", window.saveGeometry())
        self._s.setValue("window/state", window.saveState())

    def restore_window(self, window: QMainWindow) -> bool:
        """Restore geometry and dock layout; False if nothing was stored."""
        geometry, state = self._s.value("window/geometry"), self._s.value("window/state")
        restored = False
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            restored = window.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            window.restoreState(state)
        return restored

    # ----------------------------------------------------------------------------------------------- values
    def get_json(self, key: str) -> dict:
        raw = self._s.value(key, "")
        try:
            value = json.loads(raw) if isinstance(raw, str) and raw else {}
        except json.JSONDecodeError:
            value = {}
        return value if isinstance(value, dict) else {}

    def set_json(self, key: str, value: dict) -> None:
        self._s.setValue(key, json.dumps(value))

    def controls(self) -> dict:
        return self.get_json("controls/state")

    def set_controls(self, state: dict) -> None:
        self.set_json("controls/state", state)
