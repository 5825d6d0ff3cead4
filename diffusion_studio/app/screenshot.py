"""Take the README screenshots of the real window: a finished run with the playhead part-way.

    xvfb-run -s "-screen 0 1920x1080x24" python -m diffusion_studio.app.screenshot docs/screenshot.png --size 1920x1080
    xvfb-run -s "-screen 0 1280x720x24" python -m diffusion_studio.app.screenshot docs/screenshot-digits.png \
        --model digits --class 3 --sampler ddim --at 0.7
    python -m diffusion_studio.app.screenshot docs/screenshot-emoji.png --model emoji --class "Smileys & Emotion"

The first loads a picture and runs SDEdit from it; with --model, a trained model samples from pure noise.

Uses a private settings file, so the person's own settings are neither read nor changed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer

from diffusion_studio.app.main import make_application
from diffusion_studio.paths import sample_images


@dataclass(frozen=True)
class ModelShot:
    """A run of a trained model from pure noise: which model, class, guidance and sampler."""

    model: str
    class_name: str | None = None  # None: unconditional
    guidance: float = 3.0
    sampler: str = "ddpm"
    steps: int = 0  # 0: every t for DDPM, the default count for DDIM


def take(
    out: Path,
    picture: Path,
    width: int = 1280,
    height: int = 720,
    at: float = 0.6,
    shot: ModelShot | None = None,
) -> Path:
    """Open the window on ``picture`` and run DDIM (50 steps, SDEdit from it), or run ``shot`` from pure noise;
    then put the playhead ``at`` that share of the run and grab the window."""
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
        if shot is None:
            _choose(c.model, c.model.findData("ideal"), "no model named 'ideal'")
            c.method.setCurrentIndex(c.method.findData("ddim"))
            c.steps.setValue(50)
            c.strength.setValue(0.8)
        else:
            _choose(c.model, c.model.findData(shot.model), f"no model named {shot.model!r}")
            c.noise_radio.setChecked(True)
            _choose(c.method, c.method.findData(shot.sampler), f"no sampler named {shot.sampler!r}")
            c.steps.setValue(shot.steps)
            if shot.class_name is not None:
                _choose(c.class_combo, c.class_combo.findText(shot.class_name), f"no class {shot.class_name!r}")
                c.guidance.setValue(shot.guidance)
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


def _choose(combo, index: int, problem: str) -> None:
    if index < 0:
        raise SystemExit(f"cannot take the screenshot: {problem}")
    combo.setCurrentIndex(index)


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
    parser.add_argument("--size", default="1280x720", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--at", type=float, default=0.6, help="playhead position, 0 = start of the run, 1 = end")
    parser.add_argument("--model", help="sample this trained model from pure noise instead of SDEdit")
    parser.add_argument("--class", dest="class_name", help="class to sample (with --model)")
    parser.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance (default 3)")
    parser.add_argument("--sampler", choices=("ddpm", "ddim", "euler", "heun", "dpmpp_2m"), default="ddpm")
    parser.add_argument("--steps", type=int, default=0, help="sampling steps (default: all for DDPM, 50 DDIM)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    from diffusion_studio.app.streaming import configure_torch_threads

    configure_torch_threads()  # as the app does
    shot = None
    if args.model:
        shot = ModelShot(args.model, args.class_name, args.guidance, args.sampler, args.steps)
    print(take(args.out, args.image, width, height, args.at, shot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
