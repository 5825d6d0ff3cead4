"""``run_app``: the entry point the ``diffusion-studio`` command calls."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from diffusion_studio import APP_ID
from diffusion_studio.app.main import run_app
from diffusion_studio.app.main_window import MainWindow


def test_run_app_opens_the_window_with_the_image_and_exits_cleanly(qapp, picture, tmp_path):
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))  # not ~/.config
    seen = {}

    def close_when_loaded() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].image_name == "gradient.png":
            seen["title"] = windows[0].windowTitle()
            windows[0].close()
        else:
            QTimer.singleShot(50, close_when_loaded)

    QTimer.singleShot(50, close_when_loaded)
    assert run_app(picture) == 0
    assert "gradient.png" in seen["title"]
    assert QApplication.desktopFileName() == APP_ID


def test_the_screenshot_helper_writes_a_png(qapp, tmp_path):
    from PIL import Image

    from diffusion_studio.app.screenshot import take
    from diffusion_studio.paths import sample_images

    out = take(tmp_path / "shot.png", sample_images()[0], width=1200, height=700)
    with Image.open(out) as im:
        assert im.size == (1200, 700)


def test_the_screenshot_helper_can_sample_a_trained_model(qapp, tmp_path, monkeypatch):
    from PIL import Image

    from diffusion_studio.app.screenshot import ModelShot, take
    from diffusion_studio.paths import sample_images

    seen = {}
    start_run = MainWindow.start_run

    def record(window):
        c = window.controls
        seen.update(model=c.model.currentData(), source=c.source(), label=c.class_combo.currentData(),
                    guidance=c.guidance.value(), sampler=c.method.currentData(), steps=c.steps.value())
        start_run(window)

    monkeypatch.setattr(MainWindow, "start_run", record)
    shot = ModelShot("digits", "7", guidance=3.0, sampler="ddim", steps=8)
    out = take(tmp_path / "digits.png", sample_images()[0], width=1200, height=700, shot=shot)
    assert seen["model"] == "digits" and seen["source"] == "noise" and seen["label"] == 7
    assert seen["guidance"] == 3.0 and seen["sampler"] == "ddim" and seen["steps"] == 8
    with Image.open(out) as im:
        assert im.size == (1200, 700)
    with pytest.raises(SystemExit, match="no class 'seven'"):
        take(tmp_path / "x.png", sample_images()[0], 1200, 700, shot=ModelShot("digits", "seven"))
