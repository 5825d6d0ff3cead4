"""File > Open Model Folder… and its recent models: open a diffusers folder (or a studio model folder) in the window.

The folder is opened in a loader thread (importing diffusers and reading 35M+ parameters takes seconds), with a
status line while it loads; then the model joins the Model list of the Controls dock and becomes the current
one, its scheduler's sampler defaults are applied, and the cost of a run is said in the status bar.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QMenu

if TYPE_CHECKING:
    from diffusion_studio.app.main_window import MainWindow
    from diffusion_studio.models.base import ModelInfo

RECENT_KEY = "models/recent"
MAX_RECENT = 8


class ModelFolderLoader(QObject):
    """Loads a model in a plain Python thread; ``loaded``/``failed`` arrive on the GUI thread (queued)."""

    loaded = Signal(str, object, float)  # the path as given, its ModelInfo, measured seconds per step (CPU)
    failed = Signal(str, str)  # the path, one sentence

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread: threading.Thread | None = None

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def load(self, path: str) -> None:
        self.thread = threading.Thread(target=self._run, args=(path,), name="model-folder-loader", daemon=True)
        self.thread.start()

    def _run(self, path: str) -> None:
        from diffusion_studio.errors import StudioError
        from diffusion_studio.models.registry import load_model

        try:
            model = load_model(path)  # diffusers is imported here, in this thread
            per_step = seconds_per_step(model)
        except StudioError as err:
            self.failed.emit(path, str(err))
            return
        except Exception as err:  # noqa: BLE001 - a loader bug must reach the status bar, not kill the thread
            self.failed.emit(path, f"The model in {path} could not be opened ({type(err).__name__}: {err}).")
            return
        self.loaded.emit(path, model.info, per_step)


def add_model_folder_menu(w: MainWindow, file_menu: QMenu) -> None:
    """Add "Open Model Folder…" and "Recent Models" to the File menu of ``w``."""
    loader = ModelFolderLoader(w)
    loader.loaded.connect(lambda path, info, per_step: _on_loaded(w, path, info, per_step))
    loader.failed.connect(lambda path, message: _say(w, f"Could not open the model: {message}", 15000))
    w.model_folder_loader = loader
    file_menu.addAction("Open &Model Folder…", lambda: choose_model_folder(w)).setStatusTip(
        "Open a diffusers UNet2DModel folder (flat or pipeline layout) or a studio model folder"
    )
    recent = file_menu.addMenu("Recent &Models")
    recent.aboutToShow.connect(lambda: _fill_recent(w, recent))


def choose_model_folder(w: MainWindow) -> None:
    folder = QFileDialog.getExistingDirectory(w, "Open a model folder", _start_folder(w))
    if folder:
        open_model_folder(w, folder)


def open_model_folder(w: MainWindow, path: str) -> None:
    """Start loading ``path`` (a folder or ORG/NAME from the Hugging Face cache) in the loader thread."""
    loader: ModelFolderLoader = w.model_folder_loader
    if loader.busy():
        _say(w, "A model is still loading; wait for it to finish.")
        return
    _say(w, f"Opening {Path(path).name}: importing diffusers and reading the weights…", 0)
    loader.load(path)


def recent_models(w: MainWindow) -> list[str]:
    value = w.settings.get_json(RECENT_KEY)
    items = value.get("paths", []) if isinstance(value, dict) else []
    return [p for p in items if isinstance(p, str)][:MAX_RECENT]


def _remember(w: MainWindow, path: str) -> None:
    paths = [path, *[p for p in recent_models(w) if p != path]][:MAX_RECENT]
    w.settings.set_json(RECENT_KEY, {"paths": paths})


def _on_loaded(w: MainWindow, path: str, info: ModelInfo, per_step: float) -> None:
    add_to_controls(w.controls, path, info)
    T = info.training_schedule().T if info.schedule else 1000  # noqa: N806
    if per_step * T > 120:  # DDPM over every t would take minutes here: start from DDIM 50
        w.controls.method.setCurrentIndex(w.controls.method.findData("ddim"))
        w.controls.steps.setValue(50)
    _remember(w, path)
    _say(w, cost_line(info, per_step), 30000)


def add_to_controls(controls, path: str, info: ModelInfo) -> None:
    """Make ``path`` a choice of the Model list (runs load it by that path) and select it, with its defaults."""
    entry = replace(info, name=path)  # a run asks load_model for info.name: the path opens it again
    controls.models[path] = entry
    index = controls.model.findData(path)
    if index < 0:
        controls.model.addItem(f"{Path(path).name} ({info.parameters / 1e6:.1f}M)", path)
        index = controls.model.count() - 1
    controls.model.setItemData(index, info.origin, Qt.ItemDataRole.ToolTipRole)
    controls.model.setCurrentIndex(index)
    defaults = info.extra.get("sampler_defaults") or {}
    for combo, key in ((controls.variance, "variance"), (controls.spacing, "spacing")):
        found = combo.findData(defaults.get(key))
        if found >= 0:
            combo.setCurrentIndex(found)
    if "clip_x0" in defaults:
        controls.clip.setChecked(bool(defaults["clip_x0"]))


def seconds_per_step(model) -> float:
    """One model call at batch 1 on the CPU, timed (the second of two calls: the first pays for set-up)."""
    import time

    import torch

    info = model.info
    sched = info.training_schedule()
    side, channels = info.image_size or 32, info.channels or 3
    x = torch.zeros(1, channels, side, side)
    t = torch.tensor([sched.T // 2 if sched is not None else 500])
    y = torch.zeros(1, dtype=torch.long) if info.class_names else None
    model.predict_eps(x, t, sched, y)
    start = time.perf_counter()
    model.predict_eps(x, t, sched, y)
    return time.perf_counter() - start


def cost_line(info: ModelInfo, per_step: float) -> str:
    """What a run will cost, said before it: size, image size and the measured time per step on this CPU."""
    side = info.image_size or 0
    T = info.training_schedule().T if info.schedule else 1000  # noqa: N806
    line = (
        f"Opened {info.name}: {info.parameters / 1e6:.1f}M parameters, {side}x{side}; {per_step:.2f} s per step "
        f"on this CPU: DDIM 50 about {per_step * 50:.0f} s, DDPM {T} about {per_step * T / 60:.1f} min"
    )
    if per_step * T > 120:
        line += " (choose DDIM 50 on the CPU)"
    return line + "."


def _fill_recent(w: MainWindow, menu: QMenu) -> None:
    menu.clear()
    paths = recent_models(w)
    for path in paths:
        action = menu.addAction(Path(path).name, lambda p=path: open_model_folder(w, p))
        action.setToolTip(path)
        action.setEnabled(Path(path).is_dir() or "/" in path)
    if not paths:
        menu.addAction("(none yet)").setEnabled(False)


def _start_folder(w: MainWindow) -> str:
    recent = recent_models(w)
    return str(Path(recent[0]).parent) if recent else str(Path.home())


def _say(w: MainWindow, text: str, timeout_ms: int = 8000) -> None:
    w.statusBar().showMessage(text, timeout_ms)
