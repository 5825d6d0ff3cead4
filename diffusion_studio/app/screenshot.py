"""Take the README screenshot of the real window: a picture loaded, a finished run, the playhead mid-way.

    xvfb-run -s "-screen 0 1600x1000x24" python -m diffusion_studio.app.screenshot docs/screenshot.png

Uses a private settings file, so the person's own settings are neither read nor changed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer

from diffusion_studio.app.main import make_application
from diffusion_studio.paths import sample_images


def take(out: Path, picture: Path, width: int = 1480, height: int = 900, at: float = 0.6) -> Path:
    """Open the window on ``picture``, run DDIM (40 steps, SDEdit from the picture), put the playhead at ``at``."""
    app = make_application()
    from diffusion_studio.app.main_window import MainWindow
    from diffusion_studio.app.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        window = MainWindow(Settings(Path(folder) / "settings.ini"))
        window.resize(width, height)
        window.show()
        window.controls.size.setValue(256)
        if not window.open_image(picture):
            raise SystemExit(f"cannot open {picture}")
        c = window.controls
        c.method.setCurrentIndex(c.method.findData("ddim"))
        c.steps.setValue(50)
        c.strength.setValue(0.8)
        c.seed.setValue(7)
        loop = QEventLoop()
        window.runEnded.connect(lambda status, message: loop.quit())
        window.start_run()
        if window.session.running:
            loop.exec()
        ts = window.session.store.timesteps
        window.player.timeline.set_t(ts[int(len(ts) * at)], emit=True)
        _settle(app, 0.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            raise SystemExit(f"could not write {out}")
        window.close()
    return out


def _settle(app, seconds: float) -> None:
    """Let layouts, deferred updates and paints finish."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        QTimer.singleShot(10, lambda: None)
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="PNG to write")
    default = next((p for p in sample_images() if p.stem == "chelsea"), sample_images()[0])
    parser.add_argument("--image", type=Path, default=default, help="picture to load (default: a sample)")
    parser.add_argument("--size", default="1480x900", help="window size, WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    from diffusion_studio.app.streaming import configure_torch_threads

    configure_torch_threads()  # as the app does
    print(take(args.out, args.image, width, height))
    return 0


if __name__ == "__main__":
    sys.exit(main())
