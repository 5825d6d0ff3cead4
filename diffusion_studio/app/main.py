"""Start the desktop app: ``run_app(image_path_or_None) -> exit code`` (called by ``diffusion-studio``)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from diffusion_studio import APP_ID, APP_NAME, __version__
from diffusion_studio.app.settings import APPLICATION, ORGANISATION


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the app's identity (settings, window class, desktop file, icon)."""
    # The sampler thread runs many short Python calls between torch kernels; with the default 5 ms GIL switch
    # interval each one can wait that long behind the GUI thread. 0.5 ms keeps the hand-over quick.
    sys.setswitchinterval(0.0005)
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    from diffusion_studio.app.main_window import app_icon

    icon = app_icon()
    if not icon.isNull():
        app.setWindowIcon(icon)
    return app  # type: ignore[return-value]


def run_app(image_path: str | Path | None = None) -> int:
    """Open the main window (with ``image_path`` loaded when given) and run until it is closed."""
    from diffusion_studio.threads import configure_threads, prepare_environment

    prepare_environment()  # before torch is imported (by the window's modules)
    app = make_application()
    from diffusion_studio.app.main_window import MainWindow

    configure_threads(reserve=1)  # the idle cores less one for the window (DIFFUSION_STUDIO_THREADS overrides)
    window = MainWindow()
    window.show()
    if image_path is not None:
        QTimer.singleShot(0, lambda: window.open_image(image_path))
    return int(app.exec())
