"""Fixtures for the window tests: offscreen Qt, a private settings file, small fast models, no thread left behind."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import numpy as np
import pytest
from app_helpers import with_model
from PIL import Image
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QMessageBox

from diffusion_studio.app.main_window import MainWindow
from diffusion_studio.app.settings import Settings
from diffusion_studio.app.worker import live_threads
from diffusion_studio.models.base import NoisePredictor
from diffusion_studio.runs import prepare_run

SIZE, T = 32, 50  # small pictures and short schedules keep every run well under a second
PLAIN_CONTROLS = {"model": "ideal", "sampler": "ddpm", "steps": 0, "guidance": 1.0, "sample": "astronaut"}


@pytest.fixture(autouse=True)
def no_thread_left(qapp):
    """Fail any test that leaves a worker QThread (or a thread-pool task) running."""
    yield
    qapp.processEvents()
    left = [t.objectName() for t in live_threads()]
    assert not left, f"threads still running after the test: {left}"
    assert QThreadPool.globalInstance().activeThreadCount() == 0


@pytest.fixture
def warnings(monkeypatch) -> list[tuple[str, str]]:
    """Record QMessageBox warnings/information instead of opening modal dialogs."""
    shown: list[tuple[str, str]] = []

    def fake(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", fake)
    monkeypatch.setattr(QMessageBox, "information", fake)
    monkeypatch.setattr(QMessageBox, "critical", fake)
    return shown


@pytest.fixture
def make_window(qtbot, tmp_path, warnings):
    """Build real main windows with a private settings file, a 32 px picture and T = 50."""
    made: list[MainWindow] = []

    def make(model: NoisePredictor | None = None, settings_path=None, size: int = SIZE, steps_T: int = T,  # noqa: N803
             configure: bool = True) -> MainWindow:
        settings = Settings(settings_path or tmp_path / "settings.ini")
        if configure and not settings.controls():  # the closed-form model, not the first launch's digits run
            settings.set_controls(PLAIN_CONTROLS)
        window = MainWindow(settings, prepare=with_model(model) if model is not None else prepare_run)
        qtbot.addWidget(window)
        if configure:
            window.controls.size.setValue(size)
            window.controls.sizeChanged.emit(size)
            window.controls.T.setValue(steps_T)
            window.controls.noise_radio.setChecked(True)
        window.show()
        qtbot.waitExposed(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()


@pytest.fixture
def picture(tmp_path) -> str:
    """A 48x40 RGB PNG with a gradient (not square, so orientation mistakes show)."""
    yy, xx = np.mgrid[0:40, 0:48]
    rgb = np.stack([xx * 5, yy * 6, np.full_like(xx, 128)], axis=-1).astype(np.uint8)
    path = tmp_path / "gradient.png"
    Image.fromarray(rgb).save(path)
    return str(path)
