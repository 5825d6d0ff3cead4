"""Does a lens slow scrubbing? Playhead move to painted frame with the Lenses window open, 64x64, offscreen Qt.

Run: QT_QPA_PLATFORM=offscreen python -u benchmarks/bench_lenses.py
A DDIM-50 run of the closed-form ideal model at 64x64 in the reverse view; then 60 moves of the playhead to random
recorded steps, timed from the move until the x_t pane and the lens plots have painted (the spectrum of a step not
shown before is computed in that time), without and with the Lenses window open.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import platform
import tempfile
import time

import numpy as np
import torch

from diffusion_studio.app.main import make_application
from diffusion_studio.app.main_window import MainWindow
from diffusion_studio.app.settings import Settings


def wait(app, condition, timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        app.processEvents()
        if time.perf_counter() > end:
            raise TimeoutError("the run did not finish in time")


def scrub(app, window: MainWindow, moves: int, lenses=None, seed: int = 0) -> np.ndarray:
    """Milliseconds from a playhead move to the x_t pane painted (and the lens plots repainted when open)."""
    rng = np.random.default_rng(seed)
    item = window.canvas.items[0]
    recorded = window.session.store.timesteps
    times = []
    for k in rng.integers(0, len(recorded), moves):
        for _ in range(3):
            app.processEvents()
        before = item.paints
        start = time.perf_counter()
        window.player.timeline.set_t(int(recorded[k]), emit=True)
        while item.paints == before:
            app.processEvents()
        if lenses is not None:
            for panel in (lenses.spectrum.plot, lenses.trajectory.plots["x_t"], lenses.error.plot):
                panel.repaint()  # force the paint now rather than at the next idle pass
        times.append(time.perf_counter() - start)
    return np.array(times) * 1000


def main(moves: int = 60) -> None:
    app = make_application()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"Qt platform {os.environ['QT_QPA_PLATFORM']}")
    window = MainWindow(Settings(tempfile.mktemp(suffix=".ini")))
    window.resize(1500, 920)
    window.show()
    c = window.controls
    c.model.setCurrentIndex(c.model.findData("ideal"))
    c.size.setValue(64)
    c.method.setCurrentIndex(c.method.findData("ddim"))
    c.steps.setValue(50)
    done = []
    window.runEnded.connect(lambda *a: done.append(a))
    window.start_run()
    wait(app, lambda: bool(done))
    plain = scrub(app, window, moves)
    start = time.perf_counter()
    window.open_lenses()
    wait(app, lambda: "whole run" in window.lenses.status.text())
    print(f"Lenses window ready {time.perf_counter() - start:.2f} s after opening (rerun, PCA, error reference)")
    with_lenses = scrub(app, window, moves, window.lenses)
    for label, ms in (("lenses closed", plain), ("lenses open", with_lenses)):
        print(f"  {label:13s} move -> painted: median {np.median(ms):.1f} ms, 95th percentile "
              f"{np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms   (goal < 16 ms)")
    window.close()


if __name__ == "__main__":
    main()
