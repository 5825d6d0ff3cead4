"""``run_app``: the entry point the ``diffusion-studio`` command calls."""

from __future__ import annotations

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
